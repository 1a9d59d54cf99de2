"""one-time chronos, start and end dates, spread window

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 00:40:00

Nullable columns (and spread_s with a server default of 0): existing chronos keep
their timing unchanged and stay on the dispatcher's fast path. SQLite rebuilds the table to drop columns: it
stays AUTOINCREMENT (see 0006). A finished chrono is
an active one with no next_run_at: the due index needs nothing new.
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('chronos', schema=None, table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.add_column(sa.Column('run_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('starts_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('ends_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('spread_s', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('chronos', schema=None, table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.drop_column('spread_s')
        batch_op.drop_column('ends_at')
        batch_op.drop_column('starts_at')
        batch_op.drop_column('run_at')
