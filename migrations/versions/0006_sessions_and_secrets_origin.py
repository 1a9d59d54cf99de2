"""sign-in sessions kept on the server; the origin a chrono's credentials were saved for

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 20:40:00

"""
from urllib.parse import urlsplit

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def _origin(url):
    # chronoflow.chronos.credentials.origin, frozen here as it was when this ran.
    try:
        parts = urlsplit(url or "")
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    except ValueError:
        return None
    if not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme.lower()}://{host.lower()}:{port}"


def upgrade():
    op.create_table('login_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('shown_once', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_login_sessions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_sessions')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_login_sessions_key_hash'))
    )
    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_sessions_user_id'), ['user_id'], unique=False)
    # Sessions lived in the cookie alone: everyone signs in again once. (SQLite
    # rebuilds the table: it must stay AUTOINCREMENT, see 0005.)
    with op.batch_alter_table('users', schema=None, table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.drop_column('session_key')

    with op.batch_alter_table('chronos', schema=None, table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.add_column(sa.Column('secrets_origin', sa.String(length=300), nullable=True))
    chronos = sa.table('chronos', sa.column('id', sa.Integer), sa.column('url', sa.Text),
                       sa.column('secrets_origin', sa.String))
    connection = op.get_bind()
    for chrono_id, url in connection.execute(sa.select(chronos.c.id, chronos.c.url)).all():
        connection.execute(chronos.update().where(chronos.c.id == chrono_id).values(secrets_origin=_origin(url)))


def downgrade():
    with op.batch_alter_table('chronos', schema=None, table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.drop_column('secrets_origin')
    with op.batch_alter_table('users', schema=None, table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.add_column(sa.Column('session_key', sa.String(length=32), nullable=False, server_default='0' * 32))
    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_sessions_user_id'))
    op.drop_table('login_sessions')
