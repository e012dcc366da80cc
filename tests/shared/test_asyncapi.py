from pathlib import Path

from shared.asyncapi import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.yaml"


def test_published_asyncapi_document_is_current() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), (
        "docs/asyncapi.yaml is stale: run `schedcu asyncapi --out docs/asyncapi.yaml`"
    )
