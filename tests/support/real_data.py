"""The real files the tests read, copied into the repo (tests/data/real/README.md gives their provenance)."""

from pathlib import Path

REAL = Path(__file__).resolve().parents[1] / "data" / "real"
REAL_TEMPLATE = REAL / "templates" / "cuSchedNormalized.ods"
AMION_SAMPLES = REAL / "amion"
