"""日批运行 pages: the run list (filters, pages, constant queries), a run's detail, the masked
quarantine drill-down, starting a run from the UI and its polled progress.

Runs are province-wide: both admin roles see the list and a run's metadata; only the
province administrator opens quarantined rows and starts runs.
"""

import json
import re
import subprocess
from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from factories import make_place
from keycare.access import roles
from keycare.core.models import AuditEvent
from keycare.runs.models import QuarantineRow, Run, RunRequest, RunStatus

pytestmark = pytest.mark.django_db
DAY = date(2026, 11, 22)
FULL_MOBILE = re.compile(rb"(?<!\d)1[3-9]\d{9}(?!\d)")
STEPS = [
    {"name": "ingest", "seconds": 1.5, "rows": 900},
    {"name": "detect", "seconds": 0.25, "rows": 12},
    {"name": "write", "seconds": 0.25, "rows": 40},
]


def make_run(n, day=DAY, **fields):
    values = {
        "run_id": f"{day:%Y%m%d}-r{n:03d}",
        "business_date": day,
        "engine": "duckdb",
        "definitions_version": "abcdef0123456789",
        "timings": STEPS,
        "inputs": {
            "subscribers": {
                "file": "subscribers",
                "path": "/deliveries/d1/subscribers.parquet",
                "format": "parquet",
                "sha256": "5f" * 32,
                "rows_in": 100,
                "accepted": 98,
                "quarantined": 2,
            }
        },
        "counts": {"A03": 7, "A04": 0},
        "detected": 7,
        "suppressed": 3,
        "quarantined": 2,
        "loaded_at": timezone.now(),
    }
    values.update(fields)
    return Run.objects.create(**values)


@pytest.fixture
def delivery(tmp_path, settings):
    data = tmp_path / "data"
    (data / "d1").mkdir(parents=True)
    (data / "d1" / "manifest.json").write_text(json.dumps({"business_date": DAY.isoformat()}))
    settings.KEYCARE_DATA_DIR = data
    settings.KEYCARE_HOME = tmp_path
    settings.KEYCARE_RUNS_DIR = tmp_path / "runs"
    return data


# --- the list ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", [roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN])
def test_both_admin_roles_see_every_run_newest_first(client, login_as, org, role, delivery):
    make_run(1, DAY - timedelta(days=1))
    make_run(2, DAY, quarantined=5)
    user = login_as(role)
    if role == roles.ROLE_CITY_ADMIN:
        user.staffprofile.city = org["city"]
        user.staffprofile.save()
    html = client.get("/runs/").content.decode()
    assert html.index("20261122-r002") < html.index("20261121-r001")
    row = html[html.index("20261122-r002") :]
    # the run's totals are the province's figures; a city administrator has no detection
    # rows in their city here (their scoped figures: test_city_admin_sees_only_their_city...)
    figures = (">7<", ">3<", ">5<") if role == roles.ROLE_PROVINCE_ADMIN else (">0<", ">—<")
    for shown in ("duckdb", "abcdef012345", ">成功<", ">2.0<", *figures):
        assert shown in row[:1500], shown
    assert ">succeeded<" not in html
    # only the province administrator gets the start form
    assert ('id="start-run"' in html) == (role == roles.ROLE_PROVINCE_ADMIN)


@pytest.mark.parametrize("role", [roles.ROLE_MANAGER, roles.ROLE_ANALYST, roles.ROLE_AUDITOR])
def test_other_roles_are_refused(client, login_as, role):
    run = make_run(1)
    login_as(role)
    for url in ("/runs/", f"/runs/{run.pk}/"):
        assert client.get(url).status_code == 403


def test_filter_by_date_range_and_status(client, login_as, delivery):
    for i in range(5):
        make_run(i, DAY - timedelta(days=i))
    make_run(9, DAY - timedelta(days=2), status=RunStatus.SUPERSEDED)
    login_as(roles.ROLE_PROVINCE_ADMIN)
    html = client.get("/runs/", {"date_from": "2026-11-19", "date_to": "2026-11-21"}).content
    found = set(re.findall(rb"2026\d{4}-r\d{3}", html))
    assert found == {b"20261121-r001", b"20261120-r002", b"20261119-r003", b"20261120-r009"}
    html = client.get("/runs/", {"status": "superseded"}).content
    assert set(re.findall(rb"2026\d{4}-r\d{3}", html)) == {b"20261120-r009"}
    # a malformed filter is ignored, not an error
    assert client.get("/runs/", {"date_from": "yesterday"}).status_code == 200


def test_list_is_paginated(client, login_as, delivery):
    for i in range(27):
        make_run(i, DAY - timedelta(days=i))
    login_as(roles.ROLE_PROVINCE_ADMIN)
    first = client.get("/runs/").content
    second = client.get("/runs/", {"page": 2}).content
    assert len(set(re.findall(rb"2026\d{4}-r\d{3}", first))) == 25
    assert set(re.findall(rb"2026\d{4}-r\d{3}", second)) == {b"20261028-r025", b"20261027-r026"}
    assert "第 2 / 2 页，共 27 条" in second.decode()


def test_list_query_count_does_not_grow_with_runs(client, login_as, delivery):
    login_as(roles.ROLE_PROVINCE_ADMIN)
    make_run(0)
    RunRequest.objects.create(business_date=DAY, delivery="d1", status="succeeded", active=None)
    client.get("/runs/")  # warm up (session, content types)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/runs/").status_code == 200
        return len(ctx.captured_queries)

    few = count()
    for i in range(1, 20):
        make_run(i, DAY - timedelta(days=i))
    assert count() == few <= 12


# --- one run ----------------------------------------------------------------------------


def test_detail_shows_inputs_timings_and_counts_per_moment(client, login_as, moment):
    run = make_run(1)
    login_as(roles.ROLE_PROVINCE_ADMIN)
    response = client.get(f"/runs/{run.pk}/")
    html = response.content.decode()
    assert "5f" * 32 in html and "subscribers.parquet" in html and ">100<" in html
    chart = response.context["step_chart"]
    assert chart == {"names": ["接收校验", "时刻识别", "写出结果"], "seconds": [1.5, 0.25, 0.25]}
    assert 'id="step-chart-data"' in html and "echarts-6.1.0.min.js" in html
    assert response.context["total_seconds"] == 2.0
    assert [(c["code"], c["name"], c["n"]) for c in response.context["counts"]] == [
        ("A03", "账单下降", 7),
        ("A04", "", 0),
    ]


def test_detail_of_a_missing_run_is_404(client, login_as):
    login_as(roles.ROLE_PROVINCE_ADMIN)
    assert client.get("/runs/999/").status_code == 404


# --- the quarantine drill-down ----------------------------------------------------------


def _quarantine(
    run, n, file="subscribers.parquet", rule="range", raw=None, reason="plan_fee 超出范围"
):
    return QuarantineRow.objects.create(
        run=run, file=file, row_number=n, rule=rule, reason=reason,
        raw=raw or json.dumps({"subscriber_id": f"S{n}", "msisdn": "13912345678",
                               "name": "王小明", "plan_fee": 12000}, ensure_ascii=False),
    )  # fmt: skip


def test_quarantined_rows_are_masked_on_the_server(client, login_as):
    run = make_run(1)
    _quarantine(run, 1)  # Parquet row as JSON
    _quarantine(  # CSV line, header unknown: Chinese text and dates hidden too
        run, 2, file="subscribers.csv", rule="pattern",
        raw="S2,13812345678,欧阳娜娜,320102198005171234,1980-05-17,南京市玄武区北京东路1号",
        reason="msisdn 13812345678 不符合格式",
    )  # fmt: skip
    login_as(roles.ROLE_PROVINCE_ADMIN)
    content = client.get(f"/runs/{run.pk}/").content
    assert not FULL_MOBILE.search(content)
    html = content.decode()
    for secret in ("王小明", "欧阳娜娜", "320102198005171234", "1980-05-17", "北京东路"):
        assert secret not in html, secret
    assert "139****5678" in html and "王**" in html and "138****5678" in html
    assert "12000" in html and "S2" in html  # non-personal values stay readable


def test_csv_rows_are_masked_by_their_header(client, login_as, settings, tmp_path):
    settings.KEYCARE_DATA_DIR = tmp_path
    source = tmp_path / "subscribers.csv"
    source.write_text("subscriber_id,msisdn,name,brand_note\nS1,13912345678,王小明,全球通\n")
    run = make_run(1, inputs={"subscribers": {"path": str(source), "format": "csv"}})
    _quarantine(run, 1, file="subscribers.csv", raw="S1,13912345678,王小明,全球通")
    login_as(roles.ROLE_PROVINCE_ADMIN)
    html = client.get(f"/runs/{run.pk}/").content.decode()
    assert "S1,139****5678,王**,全球通" in html


def test_quarantine_rows_filter_by_file_and_rule_and_paginate(client, login_as):
    run = make_run(1)
    for n in range(1, 56):
        _quarantine(run, n)
    _quarantine(run, 1, file="bills.parquet", rule="required")
    login_as(roles.ROLE_PROVINCE_ADMIN)
    response = client.get(f"/runs/{run.pk}/")
    assert [(q["file"], q["rule"], q["n"]) for q in response.context["quarantine"]["rows"]] == [
        ("bills.parquet", "required", 1),
        ("subscribers.parquet", "range", 55),
    ]
    assert len(response.context["q_rows"]) == 50
    page2 = client.get(f"/runs/{run.pk}/", {"file": "subscribers.parquet", "page": 2})
    assert [q["row_number"] for q in page2.context["q_rows"]] == [51, 52, 53, 54, 55]
    by_rule = client.get(f"/runs/{run.pk}/", {"rule": "required"})
    assert [q["file"] for q in by_rule.context["q_rows"]] == ["bills.parquet"]
    unknown = client.get(f"/runs/{run.pk}/", {"rule": "<script>"})  # not a rule: ignored
    assert unknown.context["q_filters"] == {"file": "", "rule": ""}
    event = AuditEvent.objects.filter(action="view_quarantine").latest("id")
    assert event.detail == {"page": 1, "rows": 50} and event.object_id == str(run.pk)


def test_quarantine_page_query_count_is_constant(client, login_as, moment):
    run = make_run(1)
    _quarantine(run, 1)
    login_as(roles.ROLE_PROVINCE_ADMIN)
    client.get(f"/runs/{run.pk}/")

    def count():
        with CaptureQueriesContext(connection) as ctx:
            client.get(f"/runs/{run.pk}/")
        return len(ctx.captured_queries)

    few = count()
    for n in range(2, 40):
        _quarantine(run, n)
    assert count() == few


def test_city_admin_sees_no_quarantine_figures_nor_rows(client, login_as, org):
    run = make_run(1)
    # A marker no random token on the page can contain by chance ("S1" once matched the
    # CSRF token).
    _quarantine(run, 1, raw=json.dumps({"subscriber_id": "QROW-MARKER-0001"}))
    user = login_as(roles.ROLE_CITY_ADMIN)
    user.staffprofile.city = org["city"]
    user.staffprofile.save()
    response = client.get(f"/runs/{run.pk}/")
    html = response.content.decode()
    # quarantine rows belong to no city: a city administrator is told, not shown the figures
    assert "subscribers.parquet" in html and "仅省级管理员可见" in html
    assert 'id="quarantine-summary"' not in html and ">98<" not in html
    assert "QROW-MARKER-0001" not in html and 'id="quarantine"' not in html
    assert not AuditEvent.objects.filter(action="view_quarantine").exists()


# --- starting a run ---------------------------------------------------------------------


def test_province_admin_starts_a_run_from_the_page(
    client, login_as, delivery, django_capture_on_commit_callbacks
):
    user = login_as(roles.ROLE_PROVINCE_ADMIN)
    page = client.get("/runs/").content.decode()
    assert '<option value="d1">d1（2026-11-22）</option>' in page
    assert 'value="2026-11-22"' in page  # the newest delivery's date is proposed
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post("/runs/start/", {"business_date": "2026-11-22", "delivery": "d1"})
    assert response.status_code == 302
    assert len(callbacks) == 1  # the detached launch, queued after commit
    request = RunRequest.objects.get()
    assert (request.business_date, request.delivery, request.requested_by) == (DAY, "d1", user)
    html = client.get("/runs/").content.decode()
    assert "已发起 2026-11-22 的日批运行" in html
    assert 'hx-trigger="every 2s"' in html and "排队中" in html


def test_a_second_start_while_one_runs_is_refused_with_a_message(client, login_as, delivery):
    login_as(roles.ROLE_PROVINCE_ADMIN)
    form = {"business_date": "2026-11-22", "delivery": "d1"}
    client.post("/runs/start/", form)
    RunRequest.objects.update(status="running", pid=None, percent=40)
    response = client.post("/runs/start/", form, follow=True)
    assert (
        "已有一个日批运行在进行中（业务日期 2026-11-22，运行中 40%）" in response.content.decode()
    )
    assert RunRequest.objects.count() == 1


@pytest.mark.parametrize("delivery_name", ["../..", "/etc", "d2", ""])
def test_a_delivery_outside_the_list_is_refused(client, login_as, delivery, delivery_name):
    login_as(roles.ROLE_PROVINCE_ADMIN)
    response = client.post(
        "/runs/start/", {"business_date": "2026-11-22", "delivery": delivery_name}, follow=True
    )
    assert "未能发起运行" in response.content.decode()
    assert not RunRequest.objects.exists()


def test_city_admin_cannot_start_a_run(client, login_as, org, delivery):
    user = login_as(roles.ROLE_CITY_ADMIN)
    user.staffprofile.city = org["city"]
    user.staffprofile.save()
    response = client.post("/runs/start/", {"business_date": "2026-11-22", "delivery": "d1"})
    assert response.status_code == 403 and not RunRequest.objects.exists()
    assert client.get("/runs/start/").status_code in (403, 405)


# --- progress ---------------------------------------------------------------------------


def test_progress_polls_while_active_and_stops_when_done(client, login_as, delivery):
    login_as(roles.ROLE_PROVINCE_ADMIN)
    request = RunRequest.objects.create(
        business_date=DAY, delivery="d1", status="running", percent=43, step="detect",
        message="正在时刻识别…", pid=None,
    )  # fmt: skip
    url = f"/runs/requests/{request.pk}/progress/"
    html = client.get(url).content.decode()
    assert 'hx-trigger="every 2s"' in html and "43%" in html and "正在时刻识别" in html
    run = make_run(1)
    RunRequest.objects.filter(pk=request.pk).update(
        status="succeeded", active=None, percent=100, run=run, message="运行完成并已加载"
    )
    html = client.get(url).content.decode()
    assert "hx-trigger" not in html and "100%" in html and f"/runs/{run.pk}/" in html


def test_a_failure_shows_the_reason_without_a_traceback(client, login_as, delivery):
    login_as(roles.ROLE_PROVINCE_ADMIN)
    request = RunRequest.objects.create(
        business_date=DAY, delivery="d1", status="failed", active=None, message="运行失败",
        error="缺少文件 bills (required file missing)",
    )  # fmt: skip
    html = client.get(f"/runs/requests/{request.pk}/progress/").content.decode()
    assert "失败原因：缺少文件 bills" in html and "Traceback" not in html


def test_a_dead_job_is_shown_as_failed(client, login_as, delivery):
    login_as(roles.ROLE_PROVINCE_ADMIN)
    dead = subprocess.Popen(["true"])  # noqa: S607 - a process that ends at once
    dead.wait()
    RunRequest.objects.create(business_date=DAY, delivery="d1", status="running", pid=dead.pid)
    html = client.get("/runs/").content.decode()
    assert "已意外退出" in html and 'data-status="failed"' in html


def test_province_admin_can_stop_an_active_run_from_the_panel(client, login_as, delivery):
    login_as(roles.ROLE_PROVINCE_ADMIN)
    request = RunRequest.objects.create(business_date=DAY, delivery="d1")  # queued, no process
    url = f"/runs/requests/{request.pk}/cancel/"
    assert f'action="{url}"' in client.get("/runs/").content.decode()
    html = client.post(url, follow=True).content.decode()
    assert "已请求停止该运行" in html and "运行已被管理员停止" in html
    assert RunRequest.objects.get().status == "failed"
    html = client.post(url, follow=True).content.decode()
    assert "该运行已经结束" in html


def test_city_admin_cannot_stop_a_run(client, login_as, org, delivery):
    user = login_as(roles.ROLE_CITY_ADMIN)
    user.staffprofile.city = org["city"]
    user.staffprofile.save()
    request = RunRequest.objects.create(business_date=DAY, delivery="d1")
    assert "停止运行" not in client.get(f"/runs/requests/{request.pk}/progress/").content.decode()
    assert client.post(f"/runs/requests/{request.pk}/cancel/").status_code == 403
    assert RunRequest.objects.get().is_active


# --- figures in the viewer's scope --------------------------------------------------------


def test_city_admin_sees_only_their_city_s_figures(client, login_as, org, moment, make_customer):
    """Run.counts / detected / suppressed are province totals: a city administrator's pages
    count the run's rows of their own city instead."""
    from keycare.runs.models import Detection, Suppression

    wuxi = make_place("3202", "无锡市", county=("320205", "锡山区"), grid=("G9", "九网格"))
    nanjing = [make_customer(f"N{i}", None) for i in range(2)]
    others = [make_customer(f"W{i}", None, **wuxi._asdict()) for i in range(5)]
    run = make_run(1, counts={"A03": 7}, detected=7, suppressed=3)
    for customer in nanjing + others:
        Detection.objects.create(run=run, customer=customer, moment=moment, business_date=DAY)
    for customer in [nanjing[0], *others[:2]]:
        Suppression.objects.create(run=run, customer=customer, moment=moment, business_date=DAY)
    _quarantine(run, 1)
    user = login_as(roles.ROLE_CITY_ADMIN)
    user.staffprofile.city = org["city"]
    user.staffprofile.save()

    detail = client.get(f"/runs/{run.pk}/")
    html = detail.content.decode()
    assert detail.context["figures"] == {"detected": 2, "suppressed": 1, "quarantined": None}
    assert 'id="figure-detected">2<' in html and 'id="figure-suppressed">1<' in html
    assert [(c["code"], c["n"]) for c in detail.context["counts"]] == [("A03", 2)]
    assert detail.context["quarantine"] is None and 'id="scope-note"' in html
    assert [f["rows_in"] for f in detail.context["inputs"]] == [None]  # file totals hidden
    assert all(s["rows"] is None for s in detail.context["steps"])
    for province_figure in (">7<", ">3<", ">100<", ">900<"):
        assert province_figure not in html, province_figure

    row = client.get("/runs/").context["rows"][0]
    assert (row["detected"], row["suppressed"], row["quarantined"]) == (2, 1, None)

    # the province administrator still reads the run's totals
    client.force_login(login_as(roles.ROLE_PROVINCE_ADMIN, username="prov"))
    detail = client.get(f"/runs/{run.pk}/")
    assert detail.context["figures"] == {"detected": 7, "suppressed": 3, "quarantined": 2}
    assert detail.context["quarantine"]["total"] == 1


# --- no server paths --------------------------------------------------------------------


def test_pages_never_show_the_server_s_paths(client, login_as, delivery):
    from django.contrib.auth import get_user_model

    from keycare.web.runs import display_path

    user = login_as(roles.ROLE_PROVINCE_ADMIN)
    failed = RunRequest.objects.create(
        business_date=DAY, delivery="d1", requested_by=get_user_model().objects.get(pk=user.pk),
        status="failed", active=False,
        error=f"数据目录不存在 (data directory not found): {delivery}/d1/subscribers.csv",
        message=f"正在接收校验：{delivery / 'd1' / 'bills.csv'}",
    )  # fmt: skip
    run = make_run(1)
    root = str(delivery)
    for url in ("/runs/", f"/runs/{run.pk}/", f"/runs/requests/{failed.pk}/progress/"):
        html = client.get(url).content.decode()
        assert root not in html and str(delivery.resolve()) not in html, url
        assert "/deliveries/" not in html, url
    progress = client.get(f"/runs/requests/{failed.pk}/progress/").content.decode()
    assert "d1/subscribers.csv" in progress and "d1/bills.csv" in progress
    page = client.get("/runs/").content.decode()
    assert '<option value="d1">d1（2026-11-22）</option>' in page  # names relative to the root
    assert display_path(f"failed on /srv/other/x.csv and {root}") == "failed on x.csv and ."


def test_a_deeply_nested_quarantined_line_is_shown_not_a_server_error(client, login_as):
    """A delivered CSV line of 50,000 "[" is not JSON: shown masked, not a RecursionError."""
    run = make_run(1)
    _quarantine(run, 1, file="subscribers.csv", rule="columns", raw="[" * 50_000)
    login_as(roles.ROLE_PROVINCE_ADMIN)
    response = client.get(f"/runs/{run.pk}/")
    assert response.status_code == 200
    assert "[[[[" in response.content.decode()


def test_scoped_figures_are_kept_per_load_of_the_run(client, login_as, org, moment, make_customer):
    """A loaded run's rows do not change, so a city administrator's counts are kept; loading
    the run again (a new load time) counts afresh, and a run not yet loaded is never kept."""
    from keycare.runs.models import Detection

    run = make_run(1, counts={"A03": 7}, detected=7, suppressed=3)
    run.loaded_at = timezone.now()
    run.save(update_fields=["loaded_at"])
    user = login_as(roles.ROLE_CITY_ADMIN)
    user.staffprofile.city = org["city"]
    user.staffprofile.save()

    def detected():
        return client.get("/runs/").context["rows"][0]["detected"]

    Detection.objects.create(
        run=run, customer=make_customer("N0", None), moment=moment, business_date=DAY
    )
    assert detected() == 1
    Detection.objects.create(
        run=run, customer=make_customer("N1", None), moment=moment, business_date=DAY
    )
    assert detected() == 1  # the same load: the kept count
    run.loaded_at = timezone.now() + timedelta(seconds=1)
    run.save(update_fields=["loaded_at"])
    assert detected() == 2
    run.loaded_at = None
    run.save(update_fields=["loaded_at"])
    Detection.objects.create(
        run=run, customer=make_customer("N2", None), moment=moment, business_date=DAY
    )
    assert detected() == 3
