"""No enumerated value reaches a page as a code: every role walks every page it can reach (the
navigation, then the first link of each kind on every page: run, task, customer, campaign,
segment, work order, rule, version...), in Chinese, and the visible text (tags and scripts
stripped, but the ECharts data embedded with ``json_script`` included) must not contain a
known code (every TextChoices value of the project, every enumerated catalog value, every
health dimension) nor an English label.

The value labels themselves come from one place, ``keycare.web.labels``; the unit tests at
the end check it in both languages.
"""

import json
import re
from datetime import date, timedelta
from html.parser import HTMLParser

import pytest
from django.urls import Resolver404, resolve
from django.utils import timezone, translation

from factories import make_department, make_task, make_user, make_work_order
from keycare.access import roles
from keycare.campaigns.models import Campaign, CampaignManager, CampaignTask, Segment
from keycare.catalog.fields import load_catalog
from keycare.core.audit import record
from keycare.runs.models import Detection, Run, RunRequest, Suppression
from keycare.tasks.models import Appointment, Outcome, TaskMoment
from keycare.web import labels

pytestmark = pytest.mark.django_db
DAY = date(2026, 11, 22)

# Codes that are also ordinary text on the pages, so finding them proves nothing:
# - one- and two-letter codes (gender M/F, key-account tiers A-D, credit grades A/AA/B/C):
#   moment codes (A03), IDs and abbreviations contain them; their labels are checked by the
#   unit tests below instead;
# - "csv"/"xlsx" (export formats) and "web"/"api" (access channels) only occur in audit
#   details, where the walk below sees their labels;
# - catalog field codes ("status", "broadband_bundle" is both a field and a contract type):
#   the segment editor deliberately shows each field's code beside its name, for analysts
#   who write conditions; a field code is not an enumerated value.
SHORT = 2
SKIP = {"csv", "xlsx"}
TOKEN = re.compile(r"(?<![\w.\-])[A-Za-z][A-Za-z0-9_.\-]*[A-Za-z0-9](?![\w\-])")


def enum_codes() -> set[str]:
    codes = set()
    for choices in labels.all_choices():
        codes.update(str(v) for v in choices.values)
    catalog = load_catalog()
    for values in catalog.value_labels.values():
        codes.update(values)
    field_codes = set(catalog.by_code)
    return {c for c in codes if len(c) > SHORT and c not in SKIP and c not in field_codes}


def english_labels() -> set[str]:
    """English labels that differ from their Chinese label (so they cannot be on a zh page)."""
    found = set()
    for choices in labels.all_choices():
        for _value, label in choices.choices:
            zh = str(label)
            with translation.override("en"):
                en = str(label)
            if en != zh:
                found.add(en)
    for values in load_catalog().value_labels.values():
        found.update(v.en for v in values.values() if v.en != v.zh)
    for unit in load_catalog().units.values():
        if unit.en != unit.zh:
            found.add(unit.en)
    # Words as short as these also occur inside other text ("MB", "SMS" are the same in both).
    return {e for e in found if len(e) > 3 and re.search("[a-z]{3}", e)}


class _Text(HTMLParser):
    """Visible text, plus the strings of embedded JSON (ECharts options via json_script). A
    textarea's content is left out: it is what the user edits (a rule's YAML source, where the
    codes are the syntax), not a value shown to read."""

    def __init__(self):
        super().__init__()
        self.parts, self.links, self._in = [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "style"):
            self._in.append(attrs.get("type", "text/javascript"))
        if tag == "textarea":
            self._in.append("text/plain")
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])

    def handle_endtag(self, tag):
        if tag in ("script", "style", "textarea") and self._in:
            self._in.pop()

    def handle_data(self, data):
        if not self._in:
            self.parts.append(data)
        elif self._in[-1] == "application/json":
            self.parts.extend(_strings(json.loads(data)))


def _strings(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, str):
        yield value


# --- the world --------------------------------------------------------------------------


@pytest.fixture
def world(org, moment, managers, make_customer):
    """Customers with every enumerated value, tasks in every state, outcomes, appointments,
    work orders, a campaign, a segment, a run with detections, and one audit event per action."""
    catalog = load_catalog()
    enum_fields = {code: list(values) for code, values in catalog.value_labels.items()}
    width = max(len(v) for v in enum_fields.values())
    core = {
        "brand": ["gotone", "mzone", "easyown"],
        "payment_type": ["prepaid", "postpaid"],
        "status": ["active", "suspended", "churned"],
        "value_tier": ["mid_high", "mass"],
        "gender": ["M", "F"],
    }
    customers = []
    for i in range(width):
        attributes = {code: values[i % len(values)] for code, values in enum_fields.items()}
        attributes.update(tenure_years=3)
        customers.append(
            make_customer(
                f"S{i:03d}",
                managers[i % 2],
                msisdn=f"1381234{i:04d}",
                attributes=attributes,
                **{code: values[i % len(values)] for code, values in core.items()},
            )
        )
    department = make_department("NET", "网络维护部")
    states = ["unhandled", "in_progress", "handled_no_change", "handled_new_alert"]
    tasks = []
    for i, customer in enumerate(customers[:4]):
        task = make_task(
            customer, DAY, priority_score=90 - i, channel=["call", "sms"][i % 2], state=states[i],
            risk_probability=0.7, risk_reasons=["账单下降 35%"],
            health_scores={"tariff_brand": 55, "call_circle": 70, "service": 80, "business": 60},
        )  # fmt: skip
        TaskMoment.objects.create(task=task, moment=moment, priority=80, explanation="账单下降")
        tasks.append(task)
    results = ["reached", "not_reached", "wrong_number", "refused"]
    recommendations = ["accepted", "declined", "none", "accepted"]
    for task, result, recommendation in zip(tasks, results, recommendations, strict=True):
        Outcome.objects.create(task=task, contact_result=result, recommendation=recommendation)
    now = timezone.now()
    for i, kind in enumerate(["care_marketing", "alert"]):
        Appointment.objects.create(
            task=tasks[i], customer=tasks[i].customer, manager=tasks[i].manager, kind=kind,
            due_at=now + timedelta(hours=i - 1),
        )  # fmt: skip
    for i, (priority, status) in enumerate(
        [("urgent", "open"), ("high", "in_progress"), ("normal", "escalated"), ("low", "closed")]
    ):
        make_work_order(
            tasks[i], department, now + timedelta(days=1), priority=priority,
            title="客户诉求协同", status=status,
        )  # fmt: skip
    segment = Segment.objects.create(
        name="高价值客户",
        city=org["city"],
        filter={"all": [{"field": "plan_fee", "op": ">=", "value": 100}]},
    )
    for i, status in enumerate(["active", "draft", "finished"]):
        campaign = Campaign.objects.create(
            name=f"活动{i}", segment=segment, status=status, start_date=DAY,
            end_date=DAY + timedelta(days=30), city=org["city"],
        )  # fmt: skip
        CampaignManager.objects.create(campaign=campaign, manager=managers[0])
        CampaignTask.objects.create(
            campaign=campaign, customer=customers[0], manager=managers[0],
            contact_result="reached", recommendation="accepted", done_at=now,
        )  # fmt: skip
    runs = []
    for i, status in enumerate(["succeeded", "failed", "superseded"]):
        run = Run.objects.create(
            run_id=f"20261122-r{i:03d}", business_date=DAY - timedelta(days=i), status=status,
            engine="duckdb", counts={"A03": 4}, detected=4, suppressed=1, loaded_at=now,
            timings=[{"name": "ingest", "seconds": 1.0, "rows": 10}],
        )  # fmt: skip
        runs.append(run)
    for customer in customers[:4]:
        Detection.objects.create(run=runs[0], customer=customer, moment=moment, business_date=DAY)
    Suppression.objects.create(run=runs[0], customer=customers[5], moment=moment, business_date=DAY)
    RunRequest.objects.create(
        business_date=DAY, delivery="d1", status="succeeded", active=None, run=runs[0]
    )
    _audit_every_action(tasks[0], customers[0], campaign, runs[0])
    return {"customers": customers, "tasks": tasks}


def _audit_every_action(task, customer, campaign, run):
    details = {
        "task.claim": {"to_state": "in_progress"},
        "task.complete": {
            "to_state": "handled_no_change",
            "outcome": {"contact_result": "reached"},
        },
        "task.outcome": {"contact_result": "refused", "recommendation": "declined"},
        "appointment.create": {"task": task.pk, "kind": "care_marketing"},
        "workorder.create": {"task": task.pk, "priority": "urgent"},
        "unmask": {"channel": "web", "fields": ["name", "msisdn"], "reason": "客户来电核实身份"},
        "unmask_denied": {"channel": "api"},
        "export": {
            "format": "xlsx",
            "rows": 3,
            "filters": {"tier": "mid_high", "state": "unhandled"},
        },
        "campaign.create": {"mode": "own", "customers": 3},
        "view_quarantine": {"page": 1, "rows": 0, "file": "subscribers.csv"},
        "run.request.failed": {"business_date": "2026-11-22", "error": "失败"},
    }
    for action in labels.AuditAction.values:
        obj = {"task": task, "campaign": campaign, "run": run}.get(action.split(".")[0], customer)
        record(None, action, obj, **details.get(action, {}))


# --- the walk ---------------------------------------------------------------------------

ROLE_SCOPES = [
    roles.ROLE_PROVINCE_ADMIN,
    roles.ROLE_CITY_ADMIN,
    roles.ROLE_MANAGER,
    roles.ROLE_ANALYST,
    roles.ROLE_AUDITOR,
]
# Views that change something or stream a file: never followed.
NOT_FOLLOWED = {
    "run-start",
    "run-request-cancel",
    "campaign-finish",
    "campaign-task-complete",
    "rule-restore",
    "customer-unmask",
    "logout",
    "home",  # redirects to the role's start page
}


def _walk(client, start_urls):
    """url -> visible text of every page reached: the start URLs, then the first link of each
    kind (URL name) found on the pages, until no new kind turns up."""
    seen_names, texts, queue = set(), {}, list(start_urls)
    while queue:
        url = queue.pop(0)
        if url in texts:
            continue
        response = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans")
        assert response.status_code == 200, (url, response.status_code)
        parser = _Text()
        parser.feed(response.content.decode())
        texts[url] = " ".join(parser.parts)
        for href in parser.links:
            if not href.startswith("/") or "?" in href or "#" in href:
                continue
            try:
                name = resolve(href).url_name
            except Resolver404:
                continue
            if name in NOT_FOLLOWED or name in seen_names:
                continue
            seen_names.add(name)
            queue.append(href)
    return texts


def _login(client, role, org, managers):
    user = make_user(
        f"walker-{role}",
        role,
        manager=managers[0] if role == roles.ROLE_MANAGER else None,
        city=org["city"] if role == roles.ROLE_CITY_ADMIN else None,
    )
    client.force_login(user)
    return user


@pytest.mark.parametrize("role", ROLE_SCOPES)
def test_no_page_shows_an_enum_code_or_an_english_label(client, world, org, managers, role):
    _login(client, role, org, managers)
    home = client.get("/", follow=True)
    nav = [item["url"] for item in home.context["nav_items"]]
    start = [home.redirect_chain[-1][0] if home.redirect_chain else "/", *nav]
    if role in (roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN):
        # every customer (each carries other enumerated values) and every task
        start += [f"/customers/{c.pk}/" for c in world["customers"]]
        start += [f"/tasks/{t.pk}/" for t in world["tasks"]]
    texts = _walk(client, start)
    visited = set(texts)
    if role == roles.ROLE_PROVINCE_ADMIN:
        for kind in ("/runs/", "/tasks/", "/customers/", "/campaigns/", "/segments/",
                     "/workorders/", "/rules/"):  # fmt: skip
            assert any(u.startswith(kind) and u != kind for u in visited), (kind, visited)
    if role == roles.ROLE_AUDITOR:
        assert "/audit/" in visited
    codes, english = enum_codes(), english_labels()
    problems = []
    for url, text in texts.items():
        shown = {t for t in TOKEN.findall(text) if t in codes}
        leaked = {e for e in english if re.search(rf"(?<![\w-]){re.escape(e)}(?![\w-])", text)}
        if shown or leaked:
            problems.append((url, sorted(shown), sorted(leaked)))
    assert not problems, problems


# --- the mechanism ----------------------------------------------------------------------


def test_value_labels_in_both_languages():
    from keycare.runs.models import RunStatus

    assert labels.value_label("id_type", "id_card", "zh-hans") == "居民身份证"
    assert labels.value_label("id_type", "id_card", "en") == "Resident ID card"
    assert labels.value_label("last_payment_channel", "wechat", "zh-hans") == "微信"
    assert labels.value_label("area_type", "urban", "en") == "Urban"
    assert labels.value_label("brand", "gotone", "zh-hans") == "全球通"
    assert labels.value_label("brand", "gotone", "en") == "GoTone"
    assert labels.value_label(RunStatus, "succeeded", "zh-hans") == "成功"
    assert labels.value_label(RunStatus, "succeeded", "en") == "Succeeded"
    assert labels.value_label("health", "tariff_brand", "zh-hans") == "品牌资费"
    assert labels.value_label("audit_action", "view_customer", "en") == "Viewed customer"
    assert labels.value_label("gender", "M", "zh-hans") == "男"
    assert labels.unit_label("years", "zh-hans") == "年"
    assert labels.unit_label("RMB/month", "zh-hans") == "元/月"
    assert labels.unit_label("RMB/month", "en") == "RMB/month"
    # a value the app does not know is shown as it is, never hidden
    assert labels.value_label("id_type", "new_kind") == "new_kind"


def test_every_choice_has_a_chinese_label_and_an_english_translation():
    chinese = re.compile(r"[\u4e00-\u9fff]")
    for choices in labels.all_choices():
        for value, label in choices.choices:
            zh = str(label)
            with translation.override("en"):
                en = str(label)
            if isinstance(value, str) and value.upper() == value and len(value) <= 3:
                continue  # grades and formats read the same in both languages (A类 / Excel)
            assert chinese.search(zh) or zh in ("Excel", "CSV"), (choices.__name__, value, zh)
            assert not chinese.search(en), (choices.__name__, value, en)
            assert not re.search(r"[\u4e00-\u9fff]\s+[A-Za-z]{2,}", zh), ("mixed", zh)


def test_customer_360_in_english_shows_english_labels(client, world, org, managers):
    _login(client, roles.ROLE_PROVINCE_ADMIN, org, managers)
    customer = world["customers"][0]
    client.cookies["django_language"] = "en"
    html = client.get(f"/customers/{customer.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Resident ID card" in html and "Own store" in html and "Urban" in html
    assert "居民身份证" not in html and "元/月" not in html
    client.cookies["django_language"] = "zh-hans"
    html = client.get(f"/customers/{customer.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content
    html = html.decode()
    assert "居民身份证" in html and "自有营业厅" in html and "城市" in html and "手机营业厅" in html
    assert "<dd>3 年</dd>" in html and "<dd>188.0 元/月</dd>" in html
