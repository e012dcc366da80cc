"""`schedcu db upgrade`: apply the Alembic migrations shipped inside the package."""

from pathlib import Path

from alembic import command
from alembic.config import Config

from shared.settings import get_settings

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(database_url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url or get_settings().database_url)
    return config


def upgrade(database_url: str | None = None, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)
