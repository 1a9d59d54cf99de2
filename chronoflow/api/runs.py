from flask_smorest import Blueprint, abort

from ..chronos.schemas import RunSchema
from ..extensions import db
from ..models import ChronoRun

blp = Blueprint("Runs", __name__, url_prefix="/api/runs", description="Runs")


@blp.route("/<int:run_id>")
@blp.response(200, RunSchema)
def get_run(run_id):
    run = db.session.get(ChronoRun, run_id)
    if run is None:
        abort(404, message=f"No run with id {run_id}.")
    return run
