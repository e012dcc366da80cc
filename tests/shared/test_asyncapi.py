from pathlib import Path

from schedcu.runtime.registries import all_queues
from shared.asyncapi import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.yaml"


def test_published_asyncapi_document_is_current() -> None:
    assert DOC.read_text(encoding="utf-8") == render(all_queues()), (
        "docs/asyncapi.yaml is stale: run `schedcu asyncapi --out docs/asyncapi.yaml`"
    )
