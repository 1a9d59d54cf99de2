"""reliability: auto-pause, heartbeats

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 02:07:36.351535

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('heartbeats',
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('beat_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_heartbeats'))
    )
    with op.batch_alter_table('heartbeats', schema=None) as batch_op:
        batch_op.create_index('ix_heartbeats_kind', ['kind', 'beat_at'], unique=False)

    with op.batch_alter_table('chronos', schema=None) as batch_op:
        batch_op.add_column(sa.Column('consecutive_failures', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('paused_reason', sa.String(length=32), nullable=True))



def downgrade():
    with op.batch_alter_table('chronos', schema=None) as batch_op:
        batch_op.drop_column('paused_reason')
        batch_op.drop_column('consecutive_failures')

    with op.batch_alter_table('heartbeats', schema=None) as batch_op:
        batch_op.drop_index('ix_heartbeats_kind')

    op.drop_table('heartbeats')
