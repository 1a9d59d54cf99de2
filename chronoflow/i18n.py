"""Translation catalogs: where they live, how they are compiled and loaded.

Messages are English msgids. ``chronoflow/translations/<locale>/LC_MESSAGES/messages.po``
is the source; the ``.mo`` next to it is build output, compiled on demand by
:func:`compile_catalogs` (the app calls it at start-up; :func:`translations` calls it too).

Flask-Babel finds the same catalogs through ``BABEL_TRANSLATION_DIRECTORIES``
(default ``translations``, relative to the app's root path, which is this package).
Code that has an explicit locale and no request (``schedules.describe``) uses
:func:`translations` directly.
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

log = logging.getLogger(__name__)

TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"
LOCALES = ("en", "pt_BR")
DEFAULT_LOCALE = "en"


def normalize_locale(value) -> str:
    """Map what a browser, a user setting or a caller passes to one of ``LOCALES``.

    "pt", "pt-BR", "pt_br", "pt-PT" -> "pt_BR"; "en", "en-US", None, "", unknown -> "en".
    """
    if not value:
        return DEFAULT_LOCALE
    language = str(value).strip().replace("-", "_").split("_")[0].lower()
    if language == "pt":
        return "pt_BR"
    return DEFAULT_LOCALE


def compile_catalogs() -> None:
    """Compile every ``.po`` under ``TRANSLATIONS_DIR`` whose ``.mo`` is missing or older.

    The ``.mo`` is written to a temporary file and renamed, so a concurrent reader (or a
    second process compiling at the same time) never sees half a file. A read-only
    install with stale catalogs keeps working on the old ``.mo`` (logged), instead of
    failing at start-up.
    """
    for po_path in sorted(TRANSLATIONS_DIR.glob("*/LC_MESSAGES/*.po")):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        locale = po_path.parent.parent.name
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file, locale=locale)
        tmp_path = mo_path.with_name(f".{mo_path.name}.{os.getpid()}.tmp")
        try:
            with tmp_path.open("wb") as mo_file:
                write_mo(mo_file, catalog)
            os.replace(tmp_path, mo_path)
        except OSError:
            log.warning("could not compile %s", po_path, exc_info=True)
            tmp_path.unlink(missing_ok=True)


def translations(locale) -> NullTranslations:
    """The catalog for ``locale`` (normalized first); English gets identity translations.

    Returns a ``babel.support.Translations`` (or its base ``NullTranslations`` for
    English, which has no catalog): both offer ``gettext``/``ngettext``/``pgettext``.
    """
    return _load(normalize_locale(locale))


@functools.lru_cache(maxsize=None)
def _load(locale: str) -> NullTranslations:
    compile_catalogs()
    return Translations.load(str(TRANSLATIONS_DIR), [locale], domain="messages")


class FieldMessage(str):
    """A marshmallow error message, translated when marshmallow uses it.

    marshmallow formats and raises only real ``str`` messages (a lazy string
    would come out as a list of characters), and its field messages are fixed
    when a schema class is defined. This is the English msgid as a ``str``
    whose ``format()``, which marshmallow calls at validation time, returns the
    translation for the current request. Mark msgids with ``_m`` for extraction.
    """

    def __new__(cls, msgid, **variables):
        message = super().__new__(cls, msgid)
        message.variables = variables
        return message

    def format(self, *args, **kwargs):
        from flask_babel import gettext

        return gettext(str.__str__(self), **self.variables)

    def __str__(self):
        return self.format()


_m = FieldMessage
