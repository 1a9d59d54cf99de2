"""The migrations build exactly the schema the models describe, on both databases."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from chronoflow.extensions import db


def test_the_migrated_schema_matches_the_models(app):
    with db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), db.metadata)
    assert differences == []


def test_migrations_go_down_and_up_again(app, backend):
    if backend == "postgres":
        db.session.remove()
        db.engine.dispose()  # no connection may hold a lock on the tables
    downgrade(revision="base")
    with db.engine.connect() as connection:
        assert not db.inspect(connection).has_table("chronos")
    upgrade()
    with db.engine.connect() as connection:
        assert db.inspect(connection).has_table("chrono_runs")
