"""whatsapp receipts and session state

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29

sent_messages: each WhatsApp message a run sent and its receipts (message.ack);
waha_sessions: each session as WAHA last reported it (session.status), its alert
state and its pacing; waha_events: webhook deliveries already applied;
unmatched_acks: acks that arrived before their message's row.

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('waha_events',
    sa.Column('request_id', sa.String(length=200), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('request_id', name=op.f('pk_waha_events'))
    )
    with op.batch_alter_table('waha_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_waha_events_received_at'), ['received_at'], unique=False)

    op.create_table('unmatched_acks',
    sa.Column('message_key', sa.String(length=200), nullable=False),
    sa.Column('ack', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('message_key', 'ack', name=op.f('pk_unmatched_acks'))
    )
    with op.batch_alter_table('unmatched_acks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_unmatched_acks_received_at'), ['received_at'], unique=False)

    op.create_table('waha_sessions',
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('status', sa.String(length=40), nullable=True),
    sa.Column('me_id', sa.String(length=100), nullable=True),
    sa.Column('push_name', sa.String(length=200), nullable=True),
    sa.Column('status_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('event_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('linked', sa.Boolean(), nullable=False),
    sa.Column('alert_open', sa.Boolean(), nullable=False),
    sa.Column('quiet_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('next_send_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_waha_sessions'))
    )
    op.create_table('sent_messages',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('session', sa.String(length=100), nullable=False),
    sa.Column('recipient', sa.String(length=200), nullable=False),
    sa.Column('chat_id', sa.String(length=200), nullable=True),
    sa.Column('message_id', sa.String(length=300), nullable=True),
    sa.Column('message_key', sa.String(length=200), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ack', sa.Integer(), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('played_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['chrono_runs.id'], name=op.f('fk_sent_messages_run_id_chrono_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sent_messages')),
    sa.UniqueConstraint('message_key', name=op.f('uq_sent_messages_message_key'))
    )
    with op.batch_alter_table('sent_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sent_messages_run_id'), ['run_id'], unique=False)
        batch_op.create_index('ix_sent_messages_session_sent_at', ['session', 'sent_at'], unique=False)



def downgrade():
    with op.batch_alter_table('sent_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_sent_messages_session_sent_at')
        batch_op.drop_index(batch_op.f('ix_sent_messages_run_id'))

    op.drop_table('sent_messages')
    op.drop_table('waha_sessions')
    with op.batch_alter_table('unmatched_acks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_unmatched_acks_received_at'))

    op.drop_table('unmatched_acks')
    with op.batch_alter_table('waha_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_waha_events_received_at'))

    op.drop_table('waha_events')
