from flask.views import MethodView
from flask_babel import gettext as _
from flask_smorest import abort

from .arguments import Blueprint
from marshmallow import ValidationError

from ..channels import service
from ..channels.schemas import ChannelChanges, ChannelInput, ChannelSchema, NameTaken
from ..extensions import db
from ..models import Channel
from .errors import get_or_404, validation_failed

blp = Blueprint("Channels", __name__, url_prefix="/api/channels",
                description="WhatsApp channels: the session a message chrono sends from")


def get_channel(channel_id):
    return get_or_404(Channel, channel_id, _("No channel with id %(id)s.", id=channel_id))


def refused(exc):
    """422 naming the bad fields; 409 when the name is another channel's."""
    if isinstance(exc, NameTaken):
        abort(409, message=exc.messages["name"][0], errors={"json": exc.messages})
    validation_failed(exc)


@blp.route("")
class Channels(MethodView):
    @blp.response(200, ChannelSchema(many=True))
    def get(self):
        return service.list_channels()

    @blp.arguments(ChannelInput)
    @blp.response(201, ChannelSchema)
    def post(self, values):
        try:
            channel = service.create_channel(values)
        except ValidationError as exc:
            refused(exc)
        db.session.commit()
        return channel


@blp.route("/<int:channel_id>")
class ChannelItem(MethodView):
    @blp.response(200, ChannelSchema)
    def get(self, channel_id):
        return get_channel(channel_id)

    @blp.arguments(ChannelChanges)
    @blp.response(200, ChannelSchema)
    def patch(self, changes, channel_id):
        channel = get_channel(channel_id)
        try:
            service.update_channel(channel, changes)
        except ValidationError as exc:
            refused(exc)
        db.session.commit()
        return channel

    @blp.response(204)
    def delete(self, channel_id):
        channel = get_channel(channel_id)
        try:
            service.delete_channel(channel)
        except ValidationError as exc:
            abort(409, message=" ".join(exc.messages["channel"]))
        db.session.commit()
