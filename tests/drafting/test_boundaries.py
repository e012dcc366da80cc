"""The drafting engine is pure and keeps to the service boundary: it imports only `shared/`, itself and the
solver, nothing that does I/O. The worker's modules around it (its inputs, the problem builder, the runs, the
approval, the handlers and the registry) do the I/O."""

from tests.test_architecture import ROOT, imported_modules, violations


def test_drafting_imports_only_shared_and_itself() -> None:
    assert violations("services/drafting", {None, "drafting"}) == []


WORKER_MODULES = {"inputs.py", "store.py", "runs.py", "approval.py", "repairs.py", "handlers.py", "registry.py"}


def test_the_engine_does_no_io() -> None:
    io = ("sqlalchemy", "psycopg", "faststream", "aio_pika", "httpx", "os", "pathlib", "shared.db", "shared.messaging")
    found = [
        f"{path.name} imports {module}"
        for path in sorted((ROOT / "services" / "drafting").glob("*.py"))
        if path.name not in WORKER_MODULES
        for module in imported_modules(path)
        if module.split(".")[0] in io or module.startswith(io)
    ]
    assert found == []
