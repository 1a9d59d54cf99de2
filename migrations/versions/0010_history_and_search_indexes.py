"""history pages from the index; search by name with trigrams

Revision ID: 0010
Revises: 0007
Create Date: 2026-11-29 22:30:00

The history index gains id, the tie-breaker of its order, so a page of a chrono's
runs is read from the index alone however deep it is. The chronos list searches
names by substring: on PostgreSQL a trigram (pg_trgm) GIN index answers that
without reading every chrono. pg_trgm is a trusted extension since PostgreSQL 13:
the database's owner may create it; where that is refused, a plain index stands
in and the search scans.
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('chrono_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_chrono_runs_history')
        batch_op.create_index('ix_chrono_runs_history', ['chrono_id', 'scheduled_for', 'id'], unique=False)
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        savepoint = bind.begin_nested()
        try:
            bind.execute(sa.text('CREATE EXTENSION IF NOT EXISTS pg_trgm'))
            savepoint.commit()
        except sa.exc.DBAPIError:
            savepoint.rollback()
        else:
            op.create_index('ix_chronos_name_search', 'chronos', ['name'], postgresql_using='gin',
                            postgresql_ops={'name': 'gin_trgm_ops'})
            return
    op.create_index('ix_chronos_name_search', 'chronos', ['name'])


def downgrade():
    op.drop_index('ix_chronos_name_search', table_name='chronos')
    with op.batch_alter_table('chrono_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_chrono_runs_history')
        batch_op.create_index('ix_chrono_runs_history', ['chrono_id', 'scheduled_for'], unique=False)
