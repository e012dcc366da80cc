"""The tree's boundaries, read from the source with `ast`: a service imports only `shared/` and itself, `shared/`
imports no service, the domain kernel `shared/kernel/` imports nothing of `shared/` outside itself, no service
imports the operator package `schedcu/`, each table is written by its owner only, a finding is built through its
code only, each worker's database role reads exactly the tables its code reads, no import cycle runs through the
code, only the command line imports a command module, and the operator package's views and operations import
neither the command line nor the console."""

import ast
import re
from collections.abc import Callable
from fnmatch import fnmatchcase
from pathlib import Path

from schedcu.runtime import registries as registries_module
from schedcu.runtime.registries import all_registries
from shared.db.models import Base
from shared.db.roles import OWNERS, READS, VIEWS
from shared.kernel.contracts import CONTRACTS
from shared.messaging.topology import UNROUTED_QUEUE, UPSTREAM_REPLIES_QUEUE

ROOT = Path(__file__).resolve().parent.parent
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "__init__.py").exists())


def imported_modules(path: Path, source: str | None = None) -> list[str]:
    text = path.read_text(encoding="utf-8") if source is None else source
    tree = ast.parse(text, filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:  # relative: resolved against the importing module's package
                package = path.relative_to(ROOT).with_suffix("").parts[: -node.level]
                module = ".".join((*package, module) if module else package)
            found.append(module)
            found.extend(f"{module}.{alias.name}" for alias in node.names)
    return found


def owner_of(module: str) -> str | None:
    """`shared.kernel.coverage_rules` -> `coverage`; `schedcu...` -> `schedcu`; anything else -> None."""
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
    assert SERVICES == ["amion_scraper", "coverage", "drafting", "ods_importer", "versions"]
    found = [v for name in SERVICES for v in violations(f"services/{name}", {None, name})]
    assert found == []


def test_shared_imports_no_service_and_no_operator_code() -> None:
    assert violations("shared", {None}) == []


def outside_the_kernel(module: str) -> bool:
    """Whether a module the kernel imports is not for it: the infrastructure (`shared.*` outside
    `shared.kernel`), a service or the operator package."""
    parts = module.split(".")
    return owner_of(module) is not None or (parts[0] == "shared" and len(parts) > 1 and parts[1] != "kernel")


def kernel_violations(sources: dict[Path, str | None]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)} imports {module}"
        for path, source in sources.items()
        for module in imported_modules(path, source)
        if outside_the_kernel(module)
    ]


def test_the_kernel_imports_nothing_outside_itself() -> None:
    """The infrastructure may import the kernel, never the other way."""
    kernel = sorted((ROOT / "shared" / "kernel").rglob("*.py"))
    assert len(kernel) > 10
    assert kernel_violations(dict.fromkeys(kernel)) == []


def test_the_check_sees_the_kernel_import_infrastructure() -> None:
    module = ROOT / "shared" / "kernel" / "probe.py"  # never written: only its path is used
    source = (
        "from shared.kernel.findings import Finding\n"
        "from . import states\n"
        "from shared import settings\n"
        "from ..db.models import Workflow\n"
        "def later():\n"
        "    import services.coverage.store\n"
    )
    assert kernel_violations({module: source}) == [
        "shared/kernel/probe.py imports shared.settings",
        "shared/kernel/probe.py imports shared.db.models",
        "shared/kernel/probe.py imports shared.db.models.Workflow",
        "shared/kernel/probe.py imports services.coverage.store",
    ]


def test_the_check_sees_a_foreign_import() -> None:
    module = ROOT / "services" / "coverage" / "probe.py"  # never written: only its path is used
    source = "from services.amion_scraper.matching import fold_name\nimport schedcu.cli\nfrom ..versions import saga\n"
    tree_owners = {owner_of(m) for m in imported_modules(module, source)}
    assert {"amion_scraper", "schedcu", "versions"} <= tree_owners


def import_graph() -> dict[str, set[str]]:
    """Each module of `schedcu`, `services` and `shared` (a package by its `__init__`) to the modules of the three
    it imports, at module level or inside a function."""
    paths = {}
    for package in ("schedcu", "services", "shared"):
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                parts = path.relative_to(ROOT).with_suffix("").parts
                paths[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return {module: {m for m in imported_modules(path) if m in paths and m != module} for module, path in paths.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import one another, directly or through others (Tarjan's strongly connected
    components of more than one module), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in sorted(graph[module]):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = stack[stack.index(module) :]
            del stack[stack.index(module) :]
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def test_no_import_cycle() -> None:
    assert cycles(import_graph()) == []


def test_the_check_sees_a_cycle_through_a_function_level_import() -> None:
    module = ROOT / "schedcu" / "console" / "probe.py"  # never written: only its path is used
    source = "def later():\n    from schedcu.cli.main import main\n"
    graph = {
        "schedcu.console.probe": set(imported_modules(module, source)) & {"schedcu.cli.main"},
        "schedcu.cli.main": set(),
    }
    graph["schedcu.cli.main"].add("schedcu.console.probe")
    graph["schedcu.other"] = {"schedcu.cli.main"}
    assert cycles(graph) == [["schedcu.cli.main", "schedcu.console.probe"]]


def in_room(module: str, room: str) -> bool:
    """Whether `module` is the package `room` or one of its modules."""
    return module == room or module.startswith(f"{room}.")


def imports_where(
    graph: dict[str, set[str]], importer: Callable[[str], bool], target: Callable[[str], bool]
) -> list[str]:
    """Each import by a module `importer` accepts of a module `target` accepts."""
    return [
        f"{module} imports {imported}"
        for module, imported_set in sorted(graph.items())
        if importer(module)
        for imported in sorted(imported_set)
        if target(imported)
    ]


def command_imports(graph: dict[str, set[str]]) -> list[str]:
    """Each import of a command module by a module outside the command line."""
    return imports_where(graph, lambda m: not in_room(m, "schedcu.cli"), lambda m: in_room(m, "schedcu.cli.commands"))


def front_door_imports(graph: dict[str, set[str]]) -> list[str]:
    """Each import of the command line or the console by a view or an operation."""
    below = ("schedcu.views", "schedcu.operations")
    front_doors = ("schedcu.cli", "schedcu.console")
    return imports_where(
        graph, lambda m: any(in_room(m, r) for r in below), lambda m: any(in_room(m, r) for r in front_doors)
    )


def test_only_the_command_line_imports_a_command_module() -> None:
    """A helper several commands (or the demo, or the console) use lives in a module that is not a command."""
    assert command_imports(import_graph()) == []


def test_views_and_operations_import_neither_the_command_line_nor_the_console() -> None:
    """What the command line and the console both use sits below them both: a view or an operation that needed
    either would drag a front door into the other (and close a cycle through it)."""
    assert front_door_imports(import_graph()) == []


def test_the_checks_see_a_front_door_or_a_command_module_imported_from_outside() -> None:
    views, operations = ROOT / "schedcu" / "views", ROOT / "schedcu" / "operations"  # never written: paths only
    graph = {
        "schedcu.views.probe": set(
            imported_modules(views / "probe.py", "def later():\n    from schedcu.console import app\n")
        ),
        "schedcu.operations.probe": set(
            imported_modules(operations / "probe.py", "from ..cli.commands import versions\n")
        ),
        "schedcu.runtime.probe": {"schedcu.cli.commands.versions"},
        "schedcu.console.probe": {"schedcu.views.terminal", "schedcu.operations.status"},
        "schedcu.cli.main": {"schedcu.cli.commands.versions", "schedcu.console.routes"},
    }
    assert front_door_imports(graph) == [
        "schedcu.operations.probe imports schedcu.cli.commands",
        "schedcu.operations.probe imports schedcu.cli.commands.versions",
        "schedcu.views.probe imports schedcu.console",
        "schedcu.views.probe imports schedcu.console.app",
    ]
    assert command_imports(graph) == [
        "schedcu.operations.probe imports schedcu.cli.commands",
        "schedcu.operations.probe imports schedcu.cli.commands.versions",
        "schedcu.runtime.probe imports schedcu.cli.commands.versions",
    ]


WRITING_CALLS = {"insert", "update", "delete", "pg_insert"}
RAW_WRITE = re.compile(r"\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+([a-z_]+)", re.IGNORECASE)


def mapped_tables() -> dict[str, str]:
    return {mapper.class_.__name__: mapper.local_table.name for mapper in Base.registry.mappers}


def _called_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def written_tables(path: Path) -> set[str]:
    """The tables a module writes: insert/update/delete targets (and helpers whose name says insert),
    `session.add`/`add_all` of mapped objects, and raw SQL naming INSERT INTO / UPDATE / DELETE FROM."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    tables = mapped_tables()
    names = dict(zip(tables, tables, strict=True))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "shared.db.models":
            names.update({alias.asname or alias.name: alias.name for alias in node.names})

    def table_of(expr: ast.expr) -> str | None:
        return tables.get(names.get(expr.id, "")) if isinstance(expr, ast.Name) else None

    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            called = _called_name(node)
            if called in WRITING_CALLS or "insert" in called:
                found.update(t for t in map(table_of, node.args) if t)
            if called in {"add", "add_all"}:
                for arg in ast.walk(ast.Module(body=[ast.Expr(a) for a in node.args], type_ignores=[])):
                    if isinstance(arg, ast.Call) and (t := table_of(arg.func)):
                        found.add(t)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.update(m.lower() for m in RAW_WRITE.findall(node.value) if m.lower() in OWNERS)
    return found


def foreign_writes() -> list[str]:
    found = []
    for package in ("services", "shared", "schedcu"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            where = path.relative_to(ROOT).as_posix()
            for table in sorted(written_tables(path)):
                if not where.startswith(OWNERS[table] + "/"):
                    found.append(f"{where} writes {table}, owned by {OWNERS[table]}")
    return found


def test_every_table_has_one_owner() -> None:
    assert set(mapped_tables().values()) == set(OWNERS)


def test_a_table_is_written_by_its_owner_only() -> None:
    assert foreign_writes() == []


def test_the_check_sees_every_kind_of_write(tmp_path: Path) -> None:
    module = tmp_path / "handlers.py"
    module.write_text(
        "from shared.db.models import Assignment as Row, CoverageCell, Workflow\n"
        "session.execute(delete(Row).where(Row.id == 1))\n"
        "session.add(Workflow(id=1))\n"
        "text('UPDATE coverage_cells SET status = 1')\n"
    )
    assert written_tables(module) == {"assignments", "workflows", "coverage_cells"}


def builds_findings_by_hand(path: Path, source: str | None = None) -> bool:
    """Whether a module calls `Finding(...)` instead of the finding's code (`UNKNOWN_ROLE(text, where)`)."""
    text = path.read_text(encoding="utf-8") if source is None else source
    return any(isinstance(n, ast.Call) and _called_name(n) == "Finding" for n in ast.walk(ast.parse(text)))


def test_a_finding_is_built_through_its_code_only() -> None:
    """Each code is declared once with its severity (`shared/kernel/findings.py`), so no code is given two."""
    found = [
        path.relative_to(ROOT).as_posix()
        for package in ("schedcu", "services", "shared", "bench", "tests")
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.parts and builds_findings_by_hand(path)
    ]
    assert found == ["shared/kernel/findings.py"]


def test_the_check_sees_a_finding_built_by_hand() -> None:
    probe = ROOT / "services" / "coverage" / "probe.py"  # never written: only its path is used
    assert builds_findings_by_hand(probe, "f = Finding(severity=Severity.ERROR, code='X', text='t')\n")
    assert not builds_findings_by_hand(probe, "f = UNKNOWN_ROLE('t', 'Sheet!A1')\n")


def reads_settings(path: Path) -> bool:
    """Whether a module calls `get_settings()` (by any import name) rather than being given its settings."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return any(isinstance(node, ast.Call) and _called_name(node) == "get_settings" for node in ast.walk(tree))


def test_only_a_services_registry_reads_the_settings() -> None:
    """A service's steps are given the worker's settings (`given_settings` in its wiring); only its composition
    root, the `registry` module the worker is built from, may read them."""
    readers = [p.relative_to(ROOT).as_posix() for p in sorted((ROOT / "services").rglob("*.py")) if reads_settings(p)]
    assert [r for r in readers if not re.fullmatch(r"services/[a-z_]+/registry\.py", r)] == []


def test_the_check_sees_a_settings_read(tmp_path: Path) -> None:
    module = tmp_path / "handlers.py"
    module.write_text("from shared import settings\n\ndef step():\n    return settings.get_settings().tz\n")
    assert reads_settings(module)
    module.write_text("def step(message, delivery, settings):\n    return settings.tz\n")
    assert not reads_settings(module)


RAW_READ = re.compile(r"\b(?:FROM|JOIN)\s+([a-z_]+)", re.IGNORECASE)


def module_path(module: str) -> Path | None:
    """The file of a module of this repository; None for any other module."""
    base = ROOT.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.exists():
            return path
    return None


def worker_modules(service: str) -> set[Path]:
    """Every module of this repository a worker of `service` runs: its registry and the worker runner, and what
    they import, transitively (the models' definitions and the migrations aside)."""
    seen: set[Path] = set()
    todo = [f"services.{service}.registry", "shared.worker"]
    while todo:
        path = module_path(todo.pop())
        if path is None or path in seen or path.name == "models.py" or "migrations" in path.parts:
            continue
        seen.add(path)
        todo += [m for m in imported_modules(path) if m.split(".")[0] in {"services", "shared"}]
    return seen


def referenced_tables(path: Path) -> set[str]:
    """The tables and views a module names: its mapped classes and views (imported from shared.db.models, in any
    expression) and those its raw SQL reads (FROM, JOIN)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    tables = mapped_tables() | {view: view for view in VIEWS}
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "shared.db.models":
            names.update({alias.asname or alias.name: alias.name for alias in node.names})
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and names.get(node.id) in tables:
            found.add(tables[names[node.id]])
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.update(m.lower() for m in RAW_READ.findall(node.value) if m.lower() in OWNERS | VIEWS)
    return found


def test_each_worker_role_reads_exactly_the_other_tables_its_code_reads() -> None:
    owners = OWNERS | VIEWS
    for service in SERVICES:
        named = set().union(*map(referenced_tables, worker_modules(service)))
        foreign = {table for table in named if owners[table] not in (f"services/{service}", "shared")}
        assert set(READS[service]) == foreign, service
        assert len(READS[service]) == len(foreign), f"{service}: a table listed twice"


def test_the_check_sees_every_kind_of_read(tmp_path: Path) -> None:
    module = tmp_path / "store.py"
    module.write_text(
        "from shared.db.models import Person as P, ShiftInstance, calculation_cells\n"
        "rows = session.scalars(select(P.id, calculation_cells.c.id))\n"
        "table = cast(Table, ShiftInstance.__table__)\n"
        "text('SELECT 1 FROM coverage_cells c JOIN assignments a ON true')\n"
    )
    assert referenced_tables(module) == {
        "people",
        "shift_instances",
        "calculation_cells",
        "coverage_cells",
        "assignments",
    }


def test_each_service_has_one_registry_whose_queue_receives_what_it_handles() -> None:
    registries = all_registries()
    assert sorted(r.service for r in registries) == SERVICES
    assert [r.service for r in registries] == registries_module.SERVICES
    queues = [name for r in registries for q in r.queues for name in (q.name, q.dead_letter_name)]
    assert [*queues, UNROUTED_QUEUE.name, UPSTREAM_REPLIES_QUEUE.name] == registries_module.QUEUE_NAMES
    for r in registries:
        assert r.handlers
        for queue, handlers in r.subscriptions:
            for key in (contract.routing_key for contract in handlers):
                assert any(fnmatchcase(key, binding.replace("*", "[!.]*")) for binding in queue.bindings), key


def contracts_built(package: Path) -> set[str]:
    """The contracts a package's code builds: called (`OdsImported(...)`) or handed to a builder
    (`_event(ProposalCreated, ...)`)."""
    names = {contract.__name__ for contract in CONTRACTS}
    found = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Call) and _called_name(node) != "isinstance":
                found.update(n.id for n in (node.func, *node.args) if isinstance(n, ast.Name) and n.id in names)
    return found


def test_a_registry_declares_every_message_its_service_builds_and_no_other() -> None:
    """The relay publishes, and the broker account may publish, only what the registry declares."""
    for r in all_registries():
        assert {c.__name__ for c in r.publishes} == contracts_built(ROOT / "services" / r.service), r.service


def commands_without_a_status(source: str) -> list[str]:
    """The `cmd_*` functions of `source` that may end without returning their exit status (a bare `return`, or a
    last statement that neither returns nor raises): the command line would exit with None."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and node.name.startswith("cmd_"):
            bare = any(isinstance(n, ast.Return) and n.value is None for n in ast.walk(node))
            if bare or not isinstance(node.body[-1], ast.Return | ast.Raise):
                found.append(node.name)
    return found


def test_every_command_returns_its_exit_status() -> None:
    assert commands_without_a_status("def cmd_x(a):\n    print(a)\n") == ["cmd_x"]
    assert commands_without_a_status("def cmd_x(a):\n    if a:\n        return\n    return 0\n") == ["cmd_x"]
    assert commands_without_a_status("def cmd_x(a):\n    return 0\n") == []
    offenders = {
        f"{path.relative_to(ROOT)}:{name}"
        for path in (ROOT / "schedcu" / "cli").rglob("*.py")
        for name in commands_without_a_status(path.read_text(encoding="utf-8"))
    }
    assert offenders == set()
