"""实时信令监控: the operations page of the real-time signalling path (issue 22, item 5).

What the consumer committed with its batches (``signalling.StreamMinute``, counts only): the
stream lag (entries not yet delivered to the consumer group) and pending entries, events per
second, late, duplicate and invalid events dropped, detections per minute, over the last hour
the stream was consumed (ECharts, served locally). Below it, the latest real-time detections
in the user's scope: they locate a customer (the country roamed, PIPL Art. 28), so the list is
masked on the server and every view of it is audited (``signalling.view``).

Province and city administrators (the roaming-service operations); anyone else gets 403.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.db.models import Max, Sum
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_http_methods

from keycare.access import roles
from keycare.access.presenter import masked_customer
from keycare.access.querysets import require_role
from keycare.signalling.actions import record_detection_read
from keycare.signalling.detect import contract, moment_definitions
from keycare.signalling.models import RealtimeDetection, StreamCheckpoint, StreamMinute

OPS_ROLES = {roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN}
WINDOW_MINUTES = 60
RECENT_DETECTIONS = 30
# The names moments.yaml and contract.yaml give (translated where shown), for makemessages.
YAML_NAMES = [
    gettext_noop(name)
    for name in (
        "年度首次国际漫游", "高资费区漫游且无漫游包", "高价值客户长时间关机", "出境归来",
        "中国香港", "中国澳门", "中国台湾", "日本", "韩国", "泰国", "新加坡", "美国", "加拿大",
        "英国", "法国", "德国", "澳大利亚", "新西兰", "阿联酋", "巴西", "俄罗斯", "瑞士",
    )
]  # fmt: skip
FIGURES = ("entries", "admitted", "duplicate", "late", "invalid", "detections", "busy_ms")


def moment_label(code: str) -> str:
    """The real-time moment's name (moments.yaml), translated by the signalling catalog."""
    spec = moment_definitions().get(code)
    return f"{code} {_(spec['name'])}" if spec else code


def country_label(code: str) -> str:
    if not code:
        return "—"
    return _(contract().get("country_names", {}).get(code, code))


def _series(stream: str) -> tuple[dict, dict]:
    """(per-minute series of the last consumed hour of ``stream``, its summary)."""
    rows = StreamMinute.objects.filter(stream=stream)
    end = rows.aggregate(last=Max("minute"))["last"]
    start = end - timedelta(minutes=WINDOW_MINUTES - 1)
    per_minute = {
        r["minute"]: r
        for r in rows.filter(minute__gte=start)
        .values("minute")
        .annotate(**{f: Sum(f) for f in FIGURES}, max_latency=Max("max_latency_ms"))
    }
    latest = rows.order_by("-minute", "-updated_at").first()
    minutes = [start + timedelta(minutes=i) for i in range(WINDOW_MINUTES)]
    empty = dict.fromkeys(FIGURES, 0)
    series = {
        "minutes": [m.strftime("%H:%M") for m in minutes],
        "eps": [round(per_minute.get(m, empty)["entries"] / 60, 1) for m in minutes],
        "detections": [per_minute.get(m, empty)["detections"] for m in minutes],
        "late": [per_minute.get(m, empty)["late"] for m in minutes],
        "duplicate": [per_minute.get(m, empty)["duplicate"] for m in minutes],
        "labels": {
            "eps": _("事件/秒"),
            "detections": _("识别/分钟"),
            "late": _("迟到丢弃/分钟"),
            "duplicate": _("重复丢弃/分钟"),
        },
    }
    totals = {f: sum(r[f] or 0 for r in per_minute.values()) for f in FIGURES}
    busy_s = totals["busy_ms"] / 1000
    latencies = [r["max_latency"] for r in per_minute.values() if r["max_latency"] is not None]
    summary = {
        "start": start,
        "end": end + timedelta(minutes=1),
        "lag": latest.lag,
        "pending": latest.pending,
        "updated_at": latest.updated_at,
        "eps_last_minute": round(per_minute.get(end, empty)["entries"] / 60, 1),
        "eps_hour": round(totals["entries"] / (60 * WINDOW_MINUTES), 1),
        "throughput": round(totals["entries"] / busy_s) if busy_s else None,
        "max_latency_s": round(max(latencies) / 1000, 1) if latencies else None,
        **totals,
    }
    return series, summary


def _detection_row(d: RealtimeDetection) -> dict:
    latency = d.latency_ms
    return {
        **masked_customer(d.customer, ("name", "msisdn")),
        "subscriber_id": d.customer.subscriber_id,
        "city": d.city.name,
        "moment": moment_label(d.moment),
        "country": country_label(d.facts.get("country", "")),
        "outcome": d.get_outcome_display(),
        "signal_time": d.signal_time,
        "detect_s": None if latency["detect"] is None else round(latency["detect"] / 1000, 1),
        "act_ms": latency["act"],
    }


@login_required
@require_http_methods(["GET"])
def operations(request):
    require_role(request.user, OPS_ROLES, _("当前角色无权查看实时信令监控"))
    streams = list(
        StreamMinute.objects.order_by("stream").values_list("stream", flat=True).distinct()
    )
    chosen = request.GET.get("stream", "")
    if chosen not in streams:
        newest = StreamMinute.objects.order_by("-minute", "-updated_at").first()
        chosen = newest.stream if newest else ""
    series, summary = _series(chosen) if chosen else (None, None)
    checkpoint = StreamCheckpoint.objects.filter(stream=chosen).first() if chosen else None
    detections = list(
        RealtimeDetection.objects.restrict(request.user)
        .select_related("customer", "city", "sms")
        .order_by("-detected_at", "id")[:RECENT_DETECTIONS]
    )
    record_detection_read(
        request.user, request.META.get("REMOTE_ADDR"), "operations", [d.pk for d in detections]
    )
    return render(
        request,
        "web/signalling/operations.html",
        {
            "streams": streams,
            "stream": chosen,
            "series": series,
            "summary": summary,
            "totals": checkpoint.counts if checkpoint else {},
            "detections": [_detection_row(d) for d in detections],
            "window_minutes": WINDOW_MINUTES,
        },
    )
