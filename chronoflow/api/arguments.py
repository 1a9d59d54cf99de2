"""How the API reads a request's JSON body: a body that is not JSON is a 400 that
says what is wrong, in the request's language, never a 500 and never read as "{}".

webargs reads a body sent without `Content-Type: application/json` as no body at
all (a PATCH then "succeeds" and changes nothing), and lets json.loads' RecursionError
(nesting 100,000 deep) and ValueError (an integer past 4300 digits) through.
"""
import json
from functools import wraps

import flask_smorest
from flask import request
from flask_babel import gettext as _
from flask_smorest import abort
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request


class JsonBodyParser(FlaskParser):
    def _raw_load_json(self, req):
        body = req.get_data(cache=True)
        if not body:
            return core.missing
        if not is_json_request(req):
            abort(400, message=_("The body must be JSON, sent with Content-Type: application/json."))
        try:
            return json.loads(body)
        except UnicodeDecodeError:
            abort(400, message=_("The body is not valid JSON: it is not UTF-8 text."))
        except RecursionError:
            abort(400, message=_("The body is not valid JSON: it is nested too deep."))
        except ValueError as exc:  # JSONDecodeError, or a number too long to read
            abort(400, message=_("The body is not valid JSON: %(problem)s.", problem=str(exc)[:200]))


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint, reading bodies with JsonBodyParser; a body the
    OpenAPI document calls required (the default) is a 400 when it is missing."""

    ARGUMENTS_PARSER = JsonBodyParser()

    def arguments(self, schema, *, location="json", required=True, **kwargs):
        parse = super().arguments(schema, location=location, required=required, **kwargs)
        if location != "json" or not required:
            return parse

        def decorator(func):
            parsed = parse(func)

            @wraps(parsed)
            def view(*args, **view_kwargs):
                if not request.get_data(cache=True):
                    abort(400, message=_("The body must be a JSON object, sent with Content-Type: "
                                         "application/json."))
                return parsed(*args, **view_kwargs)

            return view

        return decorator
