"""success rules per webhook chrono; templated requests decided at save time

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 00:30:00

`success` holds a chrono's success rules (null: 2xx/3xx, the default, and no body
read). `templated` says whether its URL, headers or payload hold a template, so a
run of a chrono without one renders nothing.
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    # (SQLite rebuilds the table: it must stay AUTOINCREMENT, see 0005.)
    with op.batch_alter_table('chronos', schema=None, table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.add_column(sa.Column('success', sa.JSON().with_variant(
            postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True))
        batch_op.add_column(sa.Column('templated', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    with op.batch_alter_table('chronos', schema=None, table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.drop_column('templated')
        batch_op.drop_column('success')
