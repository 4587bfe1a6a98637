"""English UI: the catalog compiles, the shipped .mo is the compiled .po, every string is
translated, and a user who switches language gets English pages (and Chinese back)."""

import gettext
import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from keycare.access import roles

PO = Path(settings.BASE_DIR) / "locale" / "en" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
# A domain may keep its strings in a catalog of its own (<app>/locale/en/...; docs/i18n.md):
# parallel work then never edits the same .po. Django merges every app's catalog.
CATALOGS = [PO, *sorted(Path(settings.BASE_DIR).glob("*/locale/en/LC_MESSAGES/django.po"))]
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "i18n_missing.py"
CHINESE = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def i18n_tool():
    spec = importlib.util.spec_from_file_location("i18n_missing", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def compile_po(tmp_path, po: Path = PO) -> Path:
    msgfmt = shutil.which("msgfmt")
    assert msgfmt, "msgfmt not found: apt-get install gettext"
    target = tmp_path / "django.mo"
    # --check-format: a translation whose %(name)s placeholders differ from the msgid fails.
    result = subprocess.run(
        [msgfmt, "--check", "--check-format", "-o", str(target), str(po)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return target


def catalog(path: Path) -> dict:
    with path.open("rb") as handle:
        return dict(gettext.GNUTranslations(handle)._catalog)


def test_settings_offer_chinese_by_default_and_english():
    assert settings.LANGUAGE_CODE == "zh-hans"
    assert [code for code, _name in settings.LANGUAGES] == ["zh-hans", "en"]
    assert "django.middleware.locale.LocaleMiddleware" in settings.MIDDLEWARE
    assert PO.parent.parent.parent in [Path(p) for p in settings.LOCALE_PATHS]


@pytest.mark.parametrize("po", CATALOGS, ids=lambda po: po.parts[-5])
def test_english_catalog_compiles_and_the_shipped_mo_is_the_compiled_po(tmp_path, po):
    fresh = catalog(compile_po(tmp_path, po))
    mo = po.with_suffix(".mo")
    assert mo.exists(), f"{mo} missing: run compilemessages (docs/i18n.md)"
    shipped = catalog(mo)
    stale = sorted(k for k in fresh.keys() | shipped.keys() if fresh.get(k) != shipped.get(k))
    assert not stale, f"{mo} is out of date with the .po for {len(stale)} strings: {stale[:10]}"
    if po == PO:
        assert fresh.get("电话经理工作台") == "Phone manager workbench"


@pytest.mark.parametrize("po", CATALOGS, ids=lambda po: po.parts[-5])
def test_every_string_has_an_english_translation(po):
    tool = i18n_tool()
    entries = [e for e in tool.parse(po.read_text(encoding="utf-8")) if not e.is_header]
    assert entries
    missing = [e.msgid for e in entries if e.missing]
    assert not missing, (
        f"{len(missing)} strings have no English (python3 scripts/i18n_missing.py): {missing[:20]}"
    )
    chinese = [e.msgid for e in entries if any(CHINESE.search(t) for t in e.translations)]
    assert not chinese, f"translations still in Chinese: {chinese[:20]}"


def test_the_catalog_holds_every_string_of_the_code(tmp_path, monkeypatch):
    """makemessages over a copy of the package finds no string the committed .po lacks."""
    assert shutil.which("xgettext"), "xgettext not found: apt-get install gettext"
    copy = tmp_path / "keycare"
    shutil.copytree(
        Path(settings.BASE_DIR),
        copy,
        ignore=shutil.ignore_patterns("__pycache__", "static", "*.mo"),
    )
    monkeypatch.chdir(copy)
    call_command("makemessages", locale=["en"], verbosity=0)
    tool = i18n_tool()
    translated = {
        e.msgid
        for po in CATALOGS
        for e in tool.parse(po.read_text("utf-8"))
        if not e.is_header and not e.missing
    }
    regenerated = [
        e
        for po in copy.glob("**/locale/en/LC_MESSAGES/django.po")
        for e in tool.parse(po.read_text("utf-8"))
        if not e.is_header
    ]
    # A string counts as translated when any catalog (the main one or a domain's) has it.
    missing = sorted({e.msgid for e in regenerated if e.missing and e.msgid not in translated})
    assert not missing, (
        f"{len(missing)} UI strings are not in the English catalog yet: {missing[:20]} "
        "(regenerate and translate: docs/i18n.md)"
    )


def test_the_missing_strings_tool_reports_and_fills(tmp_path):
    po = tmp_path / "django.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n'
        '#: a.py:1\nmsgid "code"\nmsgstr ""\n\n'
        '#, fuzzy, python-format\n#| msgid "旧 %(n)s"\nmsgid "第 %(n)s 页"\nmsgstr "Old %(n)s"\n\n'
        'msgid "保存"\nmsgstr ""\n',
        encoding="utf-8",
    )  # no blank line after the header, as makemessages writes it
    tool = i18n_tool()
    assert tool.main(["--po", str(po)]) == 1
    assert [e.msgid for e in tool.parse(po.read_text()) if e.missing] == [
        "code",
        "第 %(n)s 页",
        "保存",
    ]
    tsv = tmp_path / "new.tsv"
    tsv.write_text("第 %(n)s 页\tPage %(n)s\n保存\tSave\n", encoding="utf-8")
    assert tool.main(["--po", str(po), "--copy-english", "--apply", str(tsv)]) == 0
    text = po.read_text()
    assert 'msgid "code"\nmsgstr "code"' in text
    assert '#, python-format\nmsgid "第 %(n)s 页"\nmsgstr "Page %(n)s"' in text
    assert "fuzzy" not in text and "#|" not in text
    assert 'msgid "保存"\nmsgstr "Save"' in text


@pytest.mark.django_db
def test_switching_language_renders_english_then_chinese_again(
    client, org, managers, login_as
):  # fmt: skip
    login_as(roles.ROLE_MANAGER, manager=managers[0])
    page = client.get("/workbench/").content.decode()
    assert "电话经理工作台" in page and 'lang="zh-hans"' in page
    assert 'action="/i18n/setlang/"' in page, "the language switcher is on every page"

    response = client.post("/i18n/setlang/", {"language": "en", "next": "/workbench/"})
    assert response.status_code == 302 and response["Location"] == "/workbench/"
    page = client.get("/workbench/").content.decode()
    assert 'lang="en"' in page
    for english in ("Phone manager workbench", "Today's tasks (by priority)", "Not yet due"):
        assert english in page
    assert "电话经理工作台" not in page
    assert "My workbench" in page  # the navigation (lazy strings) follows too

    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/workbench/"})
    assert "电话经理工作台" in client.get("/workbench/").content.decode()


@pytest.mark.django_db
def test_language_switch_needs_the_csrf_token(org, managers, login_as):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    response = strict.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 403
