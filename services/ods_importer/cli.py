"""`schedcu ods ...`."""

from shared.cli_support import Subparsers


def register(sub: Subparsers) -> None:
    """The ODS importer's commands (none yet beyond the worker)."""
