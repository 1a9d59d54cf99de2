from flask import redirect, request, url_for

from ..i18n import normalize_locale
from ..security import is_local
from . import bp

LANGUAGE_COOKIE = "lang"


@bp.route("/language/<code>")
def set_language(code):
    """Remember the chosen language; the browser's Accept-Language is the default."""
    target = request.args.get("next", "")
    if not is_local(target):
        target = url_for("chronos.index")
    response = redirect(target)
    response.set_cookie(LANGUAGE_COOKIE, normalize_locale(code), max_age=365 * 24 * 3600,
                        samesite="Lax", httponly=True)
    return response
