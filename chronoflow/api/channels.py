from flask.views import MethodView
from flask_smorest import abort

from .arguments import Blueprint
from marshmallow import ValidationError

from ..channels import service
from ..channels.schemas import ChannelChanges, ChannelInput, ChannelSchema
from ..extensions import db
from ..models import Channel
from .errors import validation_failed

blp = Blueprint("Channels", __name__, url_prefix="/api/channels",
                description="WhatsApp channels: the session a message chrono sends from")


def get_channel(channel_id):
    channel = db.session.get(Channel, channel_id)
    if channel is None:
        abort(404, message=f"No channel with id {channel_id}.")
    return channel


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
            validation_failed(exc)
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
            validation_failed(exc)
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
