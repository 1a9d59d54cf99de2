from flask.views import MethodView
from flask_babel import gettext as _
from flask_smorest import abort

from .arguments import Blueprint
from marshmallow import ValidationError

from .. import tasks
from ..chronos import service
from ..chronos.schemas import (
    ChronoChanges,
    ChronoCreated,
    ChronoInput,
    ChronoPage,
    ChronoSchema,
    PageArgs,
    RunPage,
    RunSchema,
)
from ..extensions import db
from ..models import Chrono, TargetType
from .errors import get_or_404, validation_failed

blp = Blueprint("Chronos", __name__, url_prefix="/api/chronos", description="Chronos and their runs")


def get_chrono(chrono_id):
    return get_or_404(Chrono, chrono_id, _("No chrono with id %(id)s.", id=chrono_id))


def committed(chrono):
    tasks.dispatch_chrono(chrono)  # commits
    return chrono


@blp.route("")
class Chronos(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, ChronoPage)
    def get(self, page):
        total, items = service.list_chronos(**page)
        return {"total": total, "items": items, **page}

    @blp.arguments(ChronoInput)
    @blp.response(201, ChronoCreated)
    def post(self, values):
        return committed(service.create_chrono(values))


@blp.route("/<int:chrono_id>")
class ChronoItem(MethodView):
    @blp.response(200, ChronoSchema)
    def get(self, chrono_id):
        return get_chrono(chrono_id)

    @blp.arguments(ChronoChanges)
    @blp.response(200, ChronoSchema)
    def patch(self, changes, chrono_id):
        chrono = get_chrono(chrono_id)
        try:
            service.update_chrono(chrono, changes)
        except ValidationError as exc:
            validation_failed(exc)
        return committed(chrono)

    @blp.response(204)
    def delete(self, chrono_id):
        service.delete_chrono(get_chrono(chrono_id))
        db.session.commit()


@blp.route("/<int:chrono_id>/pause", methods=["POST"])
@blp.response(200, ChronoSchema)
def pause(chrono_id):
    return committed(service.pause(get_chrono(chrono_id)))


@blp.route("/<int:chrono_id>/resume", methods=["POST"])
@blp.response(200, ChronoSchema)
def resume(chrono_id):
    return committed(service.resume(get_chrono(chrono_id)))


@blp.route("/<int:chrono_id>/rotate-secret", methods=["POST"])
@blp.response(200, ChronoCreated)
def rotate_secret(chrono_id):
    """A new signing secret, returned this once; the old one stops working at once."""
    chrono = service.rotate_secret(get_chrono(chrono_id))
    db.session.commit()
    return chrono


@blp.route("/<int:chrono_id>/trigger", methods=["POST"])
@blp.response(202, RunSchema)
def trigger(chrono_id):
    chrono = get_chrono(chrono_id)
    run = service.trigger_now(chrono)
    db.session.commit()
    try:
        tasks.run_now(run, chrono.target_type == TargetType.HTTP)
    except tasks.QueueUnavailable:
        abort(503, message=_("The queue is not reachable, so nothing was started. Try again in a moment."))
    return run


@blp.route("/<int:chrono_id>/runs")
@blp.arguments(PageArgs, location="query")
@blp.response(200, RunPage)
def runs(page, chrono_id):
    total, items = service.list_runs(get_chrono(chrono_id), **page)
    return {"total": total, "items": items, **page}
