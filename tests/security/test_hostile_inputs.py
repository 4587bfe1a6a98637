"""The hostile-input corpus (hostile_inputs.json, ≥ 500 inputs) against pages, forms, the API
and the spreadsheet exports: no 500, nothing reflected unescaped, exported cells neutralised.

Pages are discovered, not listed: every web route without arguments (plus the customer and
task pages of one record) is opened by the first role allowed to, and the filter and form
fields are read from the page's own HTML, so a new page or field is covered automatically.
Marked ``hostile``: run once (the SQLite run).
"""

from __future__ import annotations

import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.core.cache import cache
from django.urls import URLPattern, get_resolver, resolve
from openpyxl import load_workbook
from rest_framework.test import APIClient

from keycare.core.audit import record
from keycare.core.exports import FORMULA_PREFIXES, write_csv, write_xlsx
from keycare.tasks.models import Appointment

pytestmark = [pytest.mark.hostile, pytest.mark.django_db]
CORPUS = json.loads(Path(__file__).with_name("hostile_inputs.json").read_text())
FIELD_INPUTS = [entry for entry in CORPUS if entry["kind"] != "body"]  # values for one field
BODIES = [entry for entry in CORPUS if entry["kind"] == "body"]  # whole request bodies
OUT_OF_RANGE = [entry for entry in CORPUS if entry["kind"] == "datetime_range"]
# The three large kinds are variations of a few attacks (~200 SQL, ~200 XSS, ~120 formula
# payloads). A page form (or an API list and body) takes one share of them in SHARES, rotating
# with the form, so each payload still crosses a third of the forms; the other kinds
# (encodings, control characters, lengths, ...) go to every form. The whole corpus through
# every form was the suite's slowest test (320 s of ~1,640 worker-seconds).
ROTATED_KINDS = ("sql", "xss", "formula")
SHARES = 3


def _positions() -> dict[int, int]:
    """id(entry) -> the entry's position among the field inputs of its kind."""
    position: dict[int, int] = {}
    counts: dict[str, int] = {}
    for entry in FIELD_INPUTS:
        counts[entry["kind"]] = position[id(entry)] = counts.get(entry["kind"], -1) + 1
    return position


POSITION = _positions()


def takes(entry, target_number: int) -> bool:
    """Whether the ``target_number``-th form or endpoint takes ``entry`` (see ROTATED_KINDS)."""
    rotated = entry["kind"] in ROTATED_KINDS
    return not rotated or (POSITION[id(entry)] + target_number) % SHARES == 0


ROLE_ORDER = ("province_admin", "city_admin", "manager", "analyst", "auditor")
SKIPPED_FORM_ACTIONS = ("/accounts/logout/", "/i18n/setlang/")
MARKUP = re.compile(r"<[A-Za-z!/?]")


def text_of(entry) -> str:
    """The input as Python text (invalid UTF-8 decoded with surrogateescape)."""
    if entry["kind"] == "invalid_utf8":
        return bytes.fromhex(entry["hex"]).decode("utf-8", "surrogateescape")
    return entry["value"] * entry.get("repeat", 1)


def body_bytes(entry) -> bytes:
    """A "body" entry as the bytes of a request body."""
    return "".join(unit * repeat for unit, repeat in entry["parts"]).encode()


def body_label(entry) -> str:
    return f"{entry['content_type']} {entry['parts'][0][0][:12]!r}…"


def wire_bytes(entry) -> bytes:
    """The input as bytes on the wire: lone surrogates and invalid UTF-8 sent as they are."""
    if entry["kind"] == "invalid_utf8":
        return bytes.fromhex(entry["hex"])
    return text_of(entry).encode("utf-8", "surrogatepass")


def form_encode(fields: dict[str, bytes | str]) -> str:
    return "&".join(
        f"{quote(name)}={quote(value if isinstance(value, bytes) else value.encode())}"
        for name, value in fields.items()
    )


def assert_not_reflected(entry, response, where):
    """Markup in the input must never come back verbatim in an HTML page."""
    content_type = response.get("Content-Type", "")
    text = text_of(entry)
    if "html" in content_type and MARKUP.search(text):
        body = response.content.decode("utf-8", "replace")
        assert text not in body, f"{where}: {text[:80]!r} reflected unescaped"


class FormReader(HTMLParser):
    """Forms on a page: [(method, action, {name: default}, {name: is_hidden})]."""

    def __init__(self):
        super().__init__()
        self.forms: list[tuple[str, str, dict, dict]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append(((attrs.get("method") or "get").lower(), attrs.get("action"), {}, {}))
        elif tag in ("input", "select", "textarea") and self.forms and attrs.get("name"):
            _method, _action, fields, hidden = self.forms[-1]
            if attrs.get("type") in ("submit", "button", "checkbox", "radio", "file"):
                return
            fields[attrs["name"]] = attrs.get("value") or ""
            hidden[attrs["name"]] = attrs.get("type") == "hidden"


def page_forms(html: str, page: str):
    reader = FormReader()
    reader.feed(html)
    for method, action, fields, hidden in reader.forms:
        target = action or page
        if target in SKIPPED_FORM_ACTIONS or not fields:
            continue
        yield method, target, fields, hidden


def web_pages(world) -> list[str]:
    """Every web route without arguments, and one customer's and one task's pages."""
    resolver = get_resolver()
    pages = []
    for pattern in resolver.url_patterns:
        if getattr(pattern, "namespace", None) != "web":
            continue
        for sub in pattern.url_patterns:
            if isinstance(sub, URLPattern) and not sub.pattern.converters:
                pages.append("/" + str(sub.pattern))
    customer = world.customers[0].pk
    task = next(t for t in world.tasks if t.state == "in_progress" and t.manager.manager_id == "A1")
    return [
        *pages,
        f"/customers/{customer}/",
        f"/customers/{customer}/unmask/",
        f"/tasks/{task.pk}/",
    ]


def _first_allowed(client, world, page):
    for username in ROLE_ORDER:
        client.force_login(world.users[username])
        if client.get(page).status_code == 200:
            return username
    return None


def test_corpus_is_large_and_covers_every_kind():
    kinds = {entry["kind"] for entry in CORPUS}
    assert len(CORPUS) >= 500
    assert kinds >= {"sql", "xss", "formula", "control", "unicode", "surrogate", "invalid_utf8"}
    assert kinds >= {"long", "misc", "datetime_range", "body"}
    assert any(entry.get("value") == "=cmd|' /C calc'!A0" for entry in CORPUS)


def test_every_page_filter_and_form_field(client, world):
    client.raise_request_exception = False  # collect every 5xx instead of stopping at one
    officer = world.users["province_admin"]  # may unmask, so the unmask form is reached too
    officer.user_permissions.add(Permission.objects.get(codename="unmask_personal_data"))
    covered, errors, seen, sent = [], [], set(), set()
    for page in web_pages(world):
        username = _first_allowed(client, world, page)
        if username is None:
            continue
        html = client.get(page).content.decode()
        for method, target, fields, hidden in page_forms(html, page):
            # The same form for another row (each appointment's "done") reaches the same view
            # with the same fields and hidden values: once is the whole corpus through that code.
            shape = (method, resolve(urlsplit(target).path).route, _form_shape(fields, hidden))
            if shape in seen:
                continue
            seen.add(shape)
            covered.append(f"{method.upper()} {target} ({username}): {sorted(fields)}")
            inputs = [entry for entry in FIELD_INPUTS if takes(entry, len(covered))]
            sent.update(id(entry) for entry in inputs)
            for entry in inputs:
                errors += _send_form(client, entry, method, target, fields, hidden)
    assert any(line.startswith("GET /customers/ ") for line in covered), covered
    assert any(line.startswith("POST /tasks/") for line in covered), covered
    assert any("/unmask/" in line for line in covered), covered
    assert sent == {id(entry) for entry in FIELD_INPUTS}  # every input reached some form
    assert not errors, "\n".join(errors[:30])


def test_every_dial_form_field(client, world):
    """The task page's dial form is drawn for the task's own manager only: sent as them."""
    client.raise_request_exception = False
    task = next(t for t in world.tasks if t.state == "in_progress" and t.manager.manager_id == "A1")
    client.force_login(world.users["manager"])
    html = client.get(f"/tasks/{task.pk}/").content.decode()
    forms = [form for form in page_forms(html, f"/tasks/{task.pk}/") if "/dial/" in form[1]]
    assert len(forms) == 1, forms
    errors = []
    for method, target, fields, hidden in forms:
        for entry in FIELD_INPUTS:
            errors += _send_form(client, entry, method, target, fields, hidden)
    assert not errors, "\n".join(errors[:30])


def _form_shape(fields, hidden) -> tuple:
    return tuple(
        (name, fields[name] if hidden[name] and name != "csrfmiddlewaretoken" else None)
        for name in sorted(fields)
    )


def _send_form(client, entry, method, target, fields, hidden) -> list[str]:
    values = {
        name: (default if hidden[name] else wire_bytes(entry)) for name, default in fields.items()
    }
    body = form_encode(values)
    if method == "get":
        response = client.get(f"{target}?{body}")
    else:
        response = client.post(
            target, body, content_type="application/x-www-form-urlencoded", follow=True
        )
    where = f"{method.upper()} {target} [{entry['kind']}]"
    if response.status_code >= 500:
        return [f"{where}: {response.status_code} for {text_of(entry)[:60]!r}"]
    assert_not_reflected(entry, response, where)
    return []


API_LISTS = {
    "customers": ("city", "manager", "status", "value_tier", "archive", "brand", "search"),
    "tasks": ("state", "channel", "business_date", "business_date_from", "city", "manager"),
    "appointments": ("kind", "task", "manager", "city", "done", "due_before"),
    "work-orders": ("status", "priority", "department", "city", "manager", "task"),
    "campaigns": ("status", "city"),
    "moments": ("category", "cycle", "enabled", "channel"),
    "rule-versions": ("moment",),
    "runs": ("business_date", "status"),
}


def test_api_filters_and_bodies(world):
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Token {world.tokens['province_admin']}")
    task = next(t for t in world.tasks if t.state == "in_progress")
    customer = world.customers[0].pk
    errors = []
    for entry in FIELD_INPUTS:
        raw = wire_bytes(entry)
        for number, (endpoint, params) in enumerate(API_LISTS.items()):
            if not takes(entry, number):
                continue
            query = form_encode(dict.fromkeys((*params, "ordering", "page", "page_size"), raw))
            response = client.get(f"/api/{endpoint}/?{query}")
            if response.status_code >= 500:
                errors.append(f"GET /api/{endpoint}/ [{entry['kind']}] {response.status_code}")
        for number, (path, template) in enumerate(
            (
                ("/api/work-orders/", {"task": task.pk, "department": "D1", "title": "@@"}),
                ("/api/work-orders/", {"task": task.pk, "department": "@@", "title": "t"}),
                ("/api/work-orders/", {"task": "@@", "department": "D1", "title": "t"}),
                ("/api/appointments/", {"task": task.pk, "kind": "alert", "due_at": "@@"}),
                (f"/api/tasks/{task.pk}/outcome/", {"result": "reached", "notes": "@@"}),
                (f"/api/tasks/{task.pk}/outcome/", {"result": "@@"}),
                (f"/api/customers/{customer}/unmask/", {"reason": "@@"}),
                ("/api/auth/token/", {"username": "@@", "password": "@@"}),
            )
        ):
            if not takes(entry, number):
                continue
            body = (
                json.dumps(template, ensure_ascii=False).encode().replace(b"@@", _json_piece(raw))
            )
            response = client.generic("POST", path, body, content_type="application/json")
            if response.status_code >= 500:
                errors.append(f"POST {path} [{entry['kind']}] {response.status_code}")
            assert response.get("Content-Type", "").startswith("application/json"), path
    assert not errors, "\n".join(errors[:30])


def test_cti_feed_filters_and_bodies(world):
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Token {world.tokens['cti']}")
    task = next(t for t in world.tasks if t.state == "in_progress")
    call = {
        "cti_call_id": "C-1", "task_id": task.pk, "started_at": "2026-11-20T09:00:00Z",
        "ended_at": "2026-11-20T09:01:00Z", "result": "reached", "recording_ref": "R-1",
    }  # fmt: skip
    errors = []
    for entry in FIELD_INPUTS:
        raw = wire_bytes(entry)
        query = form_encode(dict.fromkeys(("date", "manager", "page", "page_size"), raw))
        response = client.get(f"/api/cti/call-list/?{query}")
        if response.status_code >= 500:
            errors.append(f"GET /api/cti/call-list/ [{entry['kind']}] {response.status_code}")
        for field in call:
            body = json.dumps({**call, field: "@@"}).encode().replace(b"@@", _json_piece(raw))
            response = client.generic(
                "POST", "/api/cti/call-results/", body, content_type="application/json"
            )
            if response.status_code >= 500:
                errors.append(f"POST call-results {field} [{entry['kind']}] {response.status_code}")
            assert response.get("Content-Type", "").startswith("application/json")
    for entry in BODIES:
        response = client.generic(
            "POST", "/api/cti/call-results/", body_bytes(entry), content_type=entry["content_type"]
        )
        error = response.json().get("error", {}) if response.status_code < 500 else {}
        if response.status_code != 400 or not error.get("message"):
            errors.append(f"POST call-results [{body_label(entry)}] {response.status_code}")
    assert not errors, "\n".join(errors[:30])


def _json_piece(raw: bytes) -> bytes:
    """``raw`` placed inside a JSON string: escaped when it is text, verbatim when not UTF-8."""
    try:
        text = raw.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return raw
    return json.dumps(text)[1:-1].encode()


def api_posts(world) -> list[str]:
    """Every API endpoint that reads a request body (the anonymous token login included)."""
    task = next(t for t in world.tasks if t.state == "in_progress")
    return [
        "/api/auth/token/",
        "/api/appointments/",
        "/api/work-orders/",
        f"/api/tasks/{task.pk}/claim/",
        f"/api/tasks/{task.pk}/outcome/",
        f"/api/customers/{world.customers[0].pk}/unmask/",
    ]


def test_hostile_bodies_are_refused_by_the_api(world):
    """Deep JSON, too many fields, too large: a 400 in the API's error format, never a 500."""
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Token {world.tokens['province_admin']}")
    errors = []
    for entry in BODIES:
        for path in api_posts(world):
            cache.clear()  # the token login is throttled (20/min per address)
            response = client.generic(
                "POST", path, body_bytes(entry), content_type=entry["content_type"]
            )
            error = response.json().get("error", {}) if response.status_code < 500 else {}
            if response.status_code != 400 or not error.get("message"):
                errors.append(f"POST {path} [{body_label(entry)}] {response.status_code}")
    assert not errors, "\n".join(errors)


def test_hostile_form_bodies_are_refused_by_web_forms(client, world):
    """The same bodies posted to the login form and the task page: Django's 400."""
    client.raise_request_exception = False
    task = next(t for t in world.tasks if t.state == "in_progress" and t.manager.manager_id == "A1")
    errors = []
    for entry in BODIES:
        if entry["content_type"] == "application/json":
            continue  # a web form does not read JSON
        for path, user in (("/accounts/login/", None), (f"/tasks/{task.pk}/", "manager")):
            client.logout()
            if user:
                client.force_login(world.users[user])
            response = client.generic(
                "POST", path, body_bytes(entry), content_type=entry["content_type"]
            )
            if response.status_code != 400:
                errors.append(f"POST {path} [{body_label(entry)}] {response.status_code}")
    assert not errors, "\n".join(errors)


def test_out_of_range_datetimes_are_refused_everywhere(client, world):
    """Year 1 or 9999 in a due time: a 400 naming the field from the API (body and filter),
    an error message on the task page; no appointment is created."""
    api = APIClient(raise_request_exception=False)
    api.credentials(HTTP_AUTHORIZATION=f"Token {world.tokens['province_admin']}")
    client.raise_request_exception = False
    client.force_login(world.users["manager"])
    task = next(t for t in world.tasks if t.state == "in_progress" and t.manager.manager_id == "A1")
    before = Appointment.objects.count()
    errors = []
    for entry in OUT_OF_RANGE:
        value = entry["value"]
        body = {"task": task.pk, "kind": "alert", "due_at": value}
        for where, response, field in (
            ("POST /api/appointments/", api.post("/api/appointments/", body, format="json"), "due_at"),
            ("GET /api/appointments/", api.get("/api/appointments/", {"due_before": value}), "due_before"),
        ):  # fmt: skip
            error = response.json().get("error", {}) if response.status_code == 400 else {}
            if field not in error.get("details", {}) or field not in error.get("message", ""):
                errors.append(f"{where} {value!r}: {response.status_code} {error}")
        task.refresh_from_db()
        response = client.post(
            f"/tasks/{task.pk}/",
            {"action": "appointment", "kind": "alert", "due_at": value, "version": task.version},
        )
        shown = [str(m) for m in get_messages(response.wsgi_request)]
        if response.status_code != 302 or not any("预约时间超出范围" in m for m in shown):
            errors.append(f"POST /tasks/ {value!r}: {response.status_code} {shown}")
    assert not errors, "\n".join(errors)
    assert Appointment.objects.count() == before


@pytest.mark.parametrize(
    "writer",
    [write_xlsx, write_csv],
    ids=["xlsx", "csv"],
)
def test_every_exported_cell_is_neutralised(writer):
    texts = [text_of(entry) for entry in FIELD_INPUTS if entry["kind"] != "long"]
    texts = [t.encode("utf-8", "replace").decode("utf-8") for t in texts]  # a cell holds text
    body, count = writer(["值"], [[t] for t in texts])
    assert count == len(texts)
    cells = _cells(body, writer is write_xlsx)
    assert len(cells) >= 500  # empty and control-only inputs become empty cells
    for cell in cells:
        _assert_neutral(cell)


def test_hostile_values_reach_the_audit_export_neutralised(client, world):
    """Attempted usernames go into the audit log; the auditor's export must not run them."""
    formulas = [text_of(e) for e in CORPUS if e["kind"] in ("formula", "control")]
    for text in formulas:
        record(None, "login_failed", object_type="auth.user", object_id=text[:64])
    client.force_login(world.users["auditor"])
    response = client.get("/audit/", {"export": "xlsx", "action": "login_failed"})
    assert response.status_code == 200
    cells = _cells(response.content, xlsx=True)
    assert len(cells) >= len(formulas)
    for cell in cells:
        _assert_neutral(cell)


def _cells(body: bytes, xlsx: bool) -> list[str]:
    """Every data cell of column ``value``/``object_id`` as text (header row skipped)."""
    if xlsx:
        sheet = load_workbook(io.BytesIO(body), read_only=True).active
        return [str(c) for row in list(sheet.iter_rows(values_only=True))[1:] for c in row if c]
    import csv

    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    return [c for row in rows[1:] for c in row if c]


def _assert_neutral(cell: str) -> None:
    assert "\x00" not in cell, repr(cell)
    assert not cell.startswith(FORMULA_PREFIXES), f"formula not neutralised: {cell[:60]!r}"
