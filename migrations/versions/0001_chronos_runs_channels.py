"""chronos, runs and channels

Revision ID: 0001
Revises: 
Create Date: 2026-11-26 01:20:17.123823

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():

    op.create_table('channels',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('session', sa.String(length=100), nullable=False),
    sa.Column('config', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_channels')),
    sa.UniqueConstraint('name', name=op.f('uq_channels_name'))
    )
    op.create_table('chronos',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('schedule', sa.String(length=200), nullable=False),
    sa.Column('cron', sa.String(length=120), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('target_type', sa.String(length=16), nullable=False),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('headers', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('config', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('channel_id', sa.Integer(), nullable=True),
    sa.Column('message_template', sa.Text(), nullable=True),
    sa.Column('recipients', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('last_run_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_run_status', sa.String(length=16), nullable=True),
    sa.Column('next_run_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_chronos_channel_id_channels'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chronos'))
    )
    with op.batch_alter_table('chronos', schema=None) as batch_op:
        batch_op.create_index('ix_chronos_due', ['next_run_at'], unique=False, postgresql_where=sa.text('is_active'), sqlite_where=sa.text('is_active = 1'))

    op.create_table('chrono_runs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('chrono_id', sa.Integer(), nullable=False),
    sa.Column('scheduled_for', sa.DateTime(timezone=True), nullable=False),
    sa.Column('trigger', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('http_status', sa.Integer(), nullable=True),
    sa.Column('response_snippet', sa.Text(), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('result', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('duration_ms', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['chrono_id'], ['chronos.id'], name=op.f('fk_chrono_runs_chrono_id_chronos'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chrono_runs'))
    )
    with op.batch_alter_table('chrono_runs', schema=None) as batch_op:
        batch_op.create_index('ix_chrono_runs_history', ['chrono_id', 'scheduled_for'], unique=False)
        batch_op.create_index('ix_chrono_runs_open', ['scheduled_for'], unique=False, postgresql_where=sa.text("status IN ('pending', 'running', 'retrying')"), sqlite_where=sa.text("status IN ('pending', 'running', 'retrying')"))
        batch_op.create_index('uq_chrono_runs_occurrence', ['chrono_id', 'scheduled_for'], unique=True, postgresql_where=sa.text("trigger = 'schedule'"), sqlite_where=sa.text("trigger = 'schedule'"))




def downgrade():

    with op.batch_alter_table('chrono_runs', schema=None) as batch_op:
        batch_op.drop_index('uq_chrono_runs_occurrence', postgresql_where=sa.text("trigger = 'schedule'"), sqlite_where=sa.text("trigger = 'schedule'"))
        batch_op.drop_index('ix_chrono_runs_open', postgresql_where=sa.text("status IN ('pending', 'running', 'retrying')"), sqlite_where=sa.text("status IN ('pending', 'running', 'retrying')"))
        batch_op.drop_index('ix_chrono_runs_history')

    op.drop_table('chrono_runs')
    with op.batch_alter_table('chronos', schema=None) as batch_op:
        batch_op.drop_index('ix_chronos_due', postgresql_where=sa.text('is_active'), sqlite_where=sa.text('is_active = 1'))

    op.drop_table('chronos')
    op.drop_table('channels')

