"""chronoflow.i18n: locale names, catalog compilation, and a complete pt_BR catalog."""
import os
import re
import shutil

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from chronoflow import i18n

PO_PATH = i18n.TRANSLATIONS_DIR / "pt_BR" / "LC_MESSAGES" / "messages.po"
PLACEHOLDER = re.compile(r"%\(\w+\)s")


@pytest.mark.parametrize("value, locale", [
    ("pt", "pt_BR"), ("pt-BR", "pt_BR"), ("pt_br", "pt_BR"), ("PT_BR", "pt_BR"), ("pt-PT", "pt_BR"),
    ("en", "en"), ("en-US", "en"), ("en_GB", "en"), ("fr", "en"), ("", "en"), (None, "en"),
])
def test_normalize_locale(value, locale):
    assert i18n.normalize_locale(value) == locale


def test_locales():
    assert i18n.LOCALES == ("en", "pt_BR")


def test_translations_are_portuguese_for_pt_and_identity_for_en():
    assert i18n.translations("pt-BR").gettext("Every day") == "Todo dia"
    assert i18n.translations("en").gettext("Every day") == "Every day"
    assert i18n.translations("pt") is i18n.translations("pt_BR")


@pytest.fixture
def translations_dir(tmp_path, monkeypatch):
    directory = tmp_path / "translations"
    shutil.copytree(i18n.TRANSLATIONS_DIR, directory, ignore=shutil.ignore_patterns("*.mo"))
    monkeypatch.setattr(i18n, "TRANSLATIONS_DIR", directory)
    return directory


def test_compile_catalogs_writes_a_missing_mo(translations_dir):
    mo = translations_dir / "pt_BR" / "LC_MESSAGES" / "messages.mo"
    i18n.compile_catalogs()
    assert mo.stat().st_size > 0
    assert not list(translations_dir.rglob("*.tmp"))


def test_compile_catalogs_recompiles_only_when_the_po_is_newer(translations_dir):
    po = translations_dir / "pt_BR" / "LC_MESSAGES" / "messages.po"
    mo = po.with_suffix(".mo")
    i18n.compile_catalogs()
    os.utime(mo, (1_000_000, 1_000_000))
    os.utime(po, (900_000, 900_000))
    i18n.compile_catalogs()
    assert mo.stat().st_mtime == 1_000_000  # up to date: left alone
    os.utime(po, (2_000_000, 2_000_000))
    i18n.compile_catalogs()
    assert mo.stat().st_mtime > 2_000_000


def _catalog():
    with PO_PATH.open("rb") as po_file:
        return read_po(po_file)


def test_every_message_is_translated():
    for message in _catalog():
        if not message.id:
            continue
        assert message.string, message.id
        assert not message.fuzzy, message.id
        placeholders = sorted(PLACEHOLDER.findall(message.id))
        assert sorted(PLACEHOLDER.findall(message.string)) == placeholders, message.id


def test_the_catalog_has_every_message_of_the_code_and_the_templates():
    keywords = {"_": None, "_l": None, "_m": None, "lazy_gettext": None, "N_": None, "gettext": None,
                "pgettext": ((1, "c"), 2)}
    root = i18n.TRANSLATIONS_DIR.parent.parent
    extracted = set()
    for folder, method in (("chronoflow", "python"), ("templates", "jinja2")):
        for _file, _line, message, _comments, context in extract_from_dir(
                str(root / folder), method_map=[("**.py" if method == "python" else "**.html", method)],
                keywords=keywords, options_map={"**.html": {"extensions": "jinja2.ext.do"}}):
            extracted.add((message if isinstance(message, str) else message[0], context))
    catalog = {(message.id, message.context) for message in _catalog() if message.id}
    assert extracted and extracted <= catalog, extracted - catalog
