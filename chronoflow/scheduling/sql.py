"""SQL shapes the scheduler's hot statements share."""
from sqlalchemy import any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY

from ..extensions import db


def among(column, ids):
    """`column IN ids`; on PostgreSQL `column = ANY(array)`: one parameter, so the
    statement's text is the same for every batch (psycopg prepares it once) and
    the plan an index scan whatever the number of ids."""
    if db.session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(ids), type_=ARRAY(column.type)))
    return column.in_(list(ids))
