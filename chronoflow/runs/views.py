from flask import abort, render_template

from ..extensions import db
from ..models import ChronoRun
from . import bp


@bp.route("/runs/<bigint:run_id>")
def detail(run_id):
    run = db.session.get(ChronoRun, run_id) or abort(404)
    return render_template("runs/detail.html", run=run, chrono=run.chrono)
