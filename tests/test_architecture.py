"""The tree's boundaries, read from the source with `ast`: a service imports only `shared/` and itself,
`shared/` imports no service, and no service imports the operator package `schedcu/`."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "__init__.py").exists())


def imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append(node.module)
            found.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def owner_of(module: str) -> str | None:
    """`services.coverage.rules` -> `coverage`; `schedcu...` -> `schedcu`; anything else -> None."""
    parts = module.split(".")
    if parts[0] == "services" and len(parts) > 1:
        return parts[1]
    return "schedcu" if parts[0] == "schedcu" else None


def violations(package: str, allowed: set[str | None]) -> list[str]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for module in imported_modules(path):
            owner = owner_of(module)
            if module != "services" and owner not in allowed:
                found.append(f"{path.relative_to(ROOT)} imports {module}")
    return found


def test_a_service_imports_only_shared_and_itself() -> None:
    assert SERVICES == ["amion_scraper", "coverage", "ods_importer", "versions"]
    found = [v for name in SERVICES for v in violations(f"services/{name}", {None, name})]
    assert found == []


def test_shared_imports_no_service_and_no_operator_code() -> None:
    assert violations("shared", {None}) == []


def test_the_check_sees_a_foreign_import(tmp_path: Path) -> None:
    module = tmp_path / "handlers.py"
    module.write_text("from services.amion_scraper.matching import fold_name\nimport schedcu.cli\n")
    owners = {owner_of(m) for m in imported_modules(module)}
    assert {"amion_scraper", "schedcu"} <= owners
