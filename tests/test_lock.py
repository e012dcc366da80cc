"""requirements.lock pins every dependency that pyproject.toml names (and its test tools), each with the hashes of
its files, at a version pyproject.toml allows; bin/bootstrap installs from it and checks the hashes. A dependency
added to pyproject.toml without `bin/lock` fails here."""

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def locked() -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes) of every entry of the lock."""
    text = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    entries = re.finditer(r"^([A-Za-z0-9._-]+)==(\S+)((?: \\\n +--hash=sha256:[0-9a-f]{64})*)", text, re.MULTILINE)
    return {canonicalize_name(e.group(1)): (e.group(2), e.group(3).count("--hash=")) for e in entries}


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [Requirement(r) for r in [*project["dependencies"], *project["optional-dependencies"]["test"]]]


def test_every_dependency_is_locked_at_an_allowed_version_with_its_hashes() -> None:
    lock = locked()
    assert len(lock) > 50
    assert all(hashes >= 1 for _, hashes in lock.values()), [n for n, (_, h) in lock.items() if h == 0]
    for requirement in [*declared(), Requirement("setuptools>=68")]:  # setuptools builds schedcu
        name = canonicalize_name(requirement.name)
        assert name in lock, f"{requirement.name} is not in requirements.lock: run bin/lock"
        assert requirement.specifier.contains(lock[name][0], prereleases=True), (requirement, lock[name][0])


def test_bootstrap_installs_only_the_locked_files() -> None:
    bootstrap = (ROOT / "bin" / "bootstrap").read_text(encoding="utf-8")
    assert "pip install --quiet --require-hashes --requirement requirements.lock" in bootstrap
    assert "--no-deps --no-build-isolation --editable ." in bootstrap
    assert "requirements.lock -nt .venv/.installed" in bootstrap


def test_the_release_audit_checks_every_locked_file_strictly_and_the_release_steps_say_so() -> None:
    audit = (ROOT / "bin" / "audit").read_text(encoding="utf-8")
    assert 'pip-audit" --strict --require-hashes --disable-pip --requirement requirements.lock' in audit
    readme = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    release = next(line for line in readme if "**Release.**" in line)
    assert "`bin/audit`" in release
