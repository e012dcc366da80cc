from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from shared.db.models import Base
from tests.integration.conftest import Services


def test_migrations_create_exactly_the_schema_the_models_describe(services: Services) -> None:
    with services.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []
