from flask_babel import gettext as _
from .arguments import Blueprint

from ..chronos.schemas import RunSchema
from ..models import ChronoRun
from .errors import get_or_404

blp = Blueprint("Runs", __name__, url_prefix="/api/runs", description="Runs")


@blp.route("/<bigint:run_id>")
@blp.response(200, RunSchema)
def get_run(run_id):
    return get_or_404(ChronoRun, run_id, _("No run with id %(id)s.", id=run_id))
