"""attempt start, and ids never reused on SQLite

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 21:00:00

A run's started_at is its first attempt's start (lateness); the recovery sweep
must judge a running attempt by its own start, hence attempt_started_at.

SQLite gives a deleted row's id to the next row unless the table is declared
AUTOINCREMENT, which only a rebuild can add. PostgreSQL's sequences never reuse.
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

TABLES = ('channels', 'chronos', 'chrono_runs', 'users', 'api_tokens')


def upgrade():
    with op.batch_alter_table('chrono_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attempt_started_at', sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE chrono_runs SET attempt_started_at = started_at WHERE status = 'running'")

    if op.get_bind().dialect.name == 'sqlite':
        for table in TABLES:
            with op.batch_alter_table(table, recreate='always', table_kwargs={'sqlite_autoincrement': True}):
                pass


def downgrade():
    if op.get_bind().dialect.name == 'sqlite':
        for table in TABLES:
            with op.batch_alter_table(table, recreate='always', table_kwargs={'sqlite_autoincrement': False}):
                pass
    with op.batch_alter_table('chrono_runs', schema=None) as batch_op:
        batch_op.drop_column('attempt_started_at')
