"""Send-time rules: the allocation's no-service and frequency rules, checked again when a
message is about to leave, because hours or days may have passed since the run allocated it.

- 免打扰名单 (the customer is on the DND list, catalog field ``dnd``): held for good;
- 服务时段 (N01's ``service_start``/``service_end`` thresholds, per-city overrides included):
  outside it the message waits until the window opens (equal start and end: all day);
- 客户免打扰时段 (``dnd_start``-``dnd_end``, may wrap past midnight): waits until it ends;
- 服务范围 / 停机 / 拒绝个性化营销 (``no_service``): the daily run's default scope, N02's
  suspension and the customer's opt-out of personalised marketing (PIPL Art. 24); the
  real-time path (``keycare.signalling``) applies the same function before it acts;
- 频次控制: the allocation's rule 2 (``AllocationConfig.is_capped``) over the customer's
  contacts actually made -- the contact log's sources (delivered SMS, reached calls), dated on
  the run calendar and checked against the message's business date, plus messages still in
  flight to the customer -- held for good, unless the message carries an urgent moment (the
  allocation exempts those too).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache

from django.utils import timezone

from keycare.customers.consent import opted_out_of_marketing
from keycare.engine import conditions as cond
from keycare.engine.allocate import AllocationConfig
from keycare.moments.models import CityThreshold, MomentDefinition, threshold_value

DND_MOMENT = "N01"
DEFAULT_WINDOW = ("09:00", "21:00")


@dataclass(frozen=True)
class Hold:
    code: str  # HoldReason value
    reason: str
    until: datetime | None = None  # None: held for good


def parse_hhmm(text) -> time | None:
    try:
        hours, minutes = str(text).split(":")
        return time(int(hours), int(minutes))
    except (TypeError, ValueError):
        return None


def window_end(now: datetime, start: time, end: time) -> datetime | None:
    """When the daily window [start, end) that contains ``now`` closes; None when outside it.
    A window with start > end wraps past midnight (22:00-08:00); start == end is all day."""
    clock = now.time()
    if start == end:
        return now + timedelta(days=1)
    today_end = now.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if start <= end:
        return today_end if start <= clock < end else None
    if clock >= start:
        return today_end + timedelta(days=1)
    return today_end if clock < end else None


class SendRules:
    """The rules for one batch: reads the service windows once and contacts per batch."""

    def __init__(self, now: datetime | None = None, config: AllocationConfig | None = None):
        self.now = timezone.localtime(now or timezone.now())
        self.config = config or AllocationConfig()
        self.windows = _service_windows()
        self.urgent = urgent_codes()
        self.opted_out: set[int] = set()  # filled per batch by contacted()

    def check(self, message, contacted: set[int]) -> Hold | None:
        """The hold for ``message`` now, or None to send it. ``contacted``: customers with a
        contact inside the cap window, including those sent earlier in this batch."""
        # A message to staff (no customer) keeps only the service window.
        attributes = (message.customer.attributes or {}) if message.customer_id else {}
        if message.customer_id:
            held = no_service(
                message.customer, self.now.date(), opted_out=message.customer_id in self.opted_out
            )
            if held is not None:
                return held
        start, end = self.windows.get(message.city_id, self.windows[None])
        if window_end(self.now, start, end) is None:
            return Hold(
                "quiet_hours",
                f"非服务时段（{start:%H:%M}-{end:%H:%M}），服务时段开始后发送",
                self._next_opening(start),
            )
        dnd_start, dnd_end = (
            parse_hhmm(attributes.get("dnd_start")),
            parse_hhmm(attributes.get("dnd_end")),
        )
        if dnd_start and dnd_end:
            until = window_end(self.now, dnd_start, dnd_end)
            if until is not None:
                return Hold(
                    "dnd_window",
                    f"客户免打扰时段（{dnd_start:%H:%M}-{dnd_end:%H:%M}），结束后发送",
                    until,
                )
        urgent = any(code in self.urgent for code in message.moment_codes or ())
        if message.customer_id is not None and message.customer_id in contacted and not urgent:
            return Hold(
                "frequency_cap",
                f"频次控制：{self.config.contact_cap_days} 天内已接触过该客户，不再发送",
            )
        return None

    def contacted(self, messages) -> set[int]:
        """Customers of ``messages`` with a contact made inside the cap window before the
        message's business date: the contact log's sources (reached calls, delivered SMS:
        ``keycare.tasks.contacts``, which the allocation's cool-down reads too) and messages
        still in flight to them (handed to the gateway, no delivery receipt yet). Messages to
        staff (no customer) are left out. Read with them: the batch's customers who opted out
        of personalised marketing (``self.opted_out``)."""
        messages = [m for m in messages if m.customer_id is not None]
        self.opted_out = opted_out_of_marketing({m.customer_id for m in messages})
        if self.config.contact_cap_days <= 0 or not messages:
            return set()
        from keycare.messaging.models import IN_FLIGHT_STATES, SmsMessage
        from keycare.tasks.contacts import contact_dates

        day_of, subscriber_of = {}, {}
        for m in messages:
            # A real-time detection (keycare.signalling) has no business date: it is today's.
            day = getattr(m, "business_date", None) or self.now.date()
            day_of[m.customer_id] = min(day, day_of.get(m.customer_id, date.max))
            subscriber_of[m.customer_id] = m.customer.subscriber_id
        since = self.config.contact_cutoff(min(day_of.values())) + timedelta(days=1)
        logged = contact_dates(set(subscriber_of.values()), since, customer_ids=list(day_of))
        dates = {c: set(logged.get(s, ())) for c, s in subscriber_of.items()}
        in_flight = SmsMessage.objects.filter(
            customer_id__in=list(day_of), state__in=IN_FLIGHT_STATES, business_date__gte=since
        ).values_list("customer_id", "business_date")
        for customer, day in in_flight:
            dates[customer].add(day)
        return {c for c, days in dates.items() if self.config.is_capped(days, day_of[c])}

    def _next_opening(self, start: time) -> datetime:
        opening = self.now.replace(hour=start.hour, minute=start.minute, second=0, microsecond=0)
        return opening if opening > self.now else opening + timedelta(days=1)


def no_service(customer, today, opted_out: bool | None = None) -> Hold | None:
    """The daily path's customer-level rules that withhold every proactive contact, held for
    good: the DND list (N01's ``dnd``), outside the daily scope (moments.yaml
    ``defaults.scope``), suspended (N02), opted out of personalised marketing (PIPL Art. 24)."""
    if on_dnd_list(customer):
        return Hold("dnd_list", "客户在免打扰名单中，不发送")
    row = {"value_tier": customer.value_tier, "status": customer.status}
    scope = daily_scope()
    if scope is not None and not cond.Evaluator(today, {})(scope, row):
        return Hold("out_of_scope", "客户不在日常服务范围内（价值层级或在网状态），不主动服务")
    if customer.status == "suspended":
        return Hold("out_of_scope", "客户处于停机状态，不主动服务")
    if opted_out is None:
        opted_out = bool(opted_out_of_marketing({customer.pk}))
    if opted_out:
        return Hold("opted_out", "客户已拒绝个性化营销（个人信息保护法第二十四条），不发送")
    return None


def on_dnd_list(customer) -> bool:
    return _truthy((customer.attributes or {}).get("dnd"))


@lru_cache(maxsize=1)
def daily_scope():
    """The daily run's default scope (``defaults.scope`` of the moment definitions), parsed."""
    from keycare.engine.definitions import load_definitions
    from keycare.engine.view import field_types

    definitions = load_definitions()
    raw = (definitions.document.get("defaults") or {}).get("scope")
    if not raw:
        return None
    return cond.parse_condition(raw, cond.Schema(field_types(definitions.fields)), "scope")


# Urgent moments defined outside the daily definitions (the real-time moments register theirs).
REGISTERED_URGENT: set[str] = set()


def register_urgent(codes) -> None:
    REGISTERED_URGENT.update(codes)


def urgent_codes() -> frozenset[str]:
    """Moments served even inside the cool-down (the definitions' ``urgent``), as in the
    allocation's rule 2, and those registered with ``register_urgent``."""
    return _daily_urgent() | frozenset(REGISTERED_URGENT)


@lru_cache(maxsize=1)
def _daily_urgent() -> frozenset[str]:
    from keycare.engine.definitions import load_definitions

    return frozenset(code for code, m in load_definitions().by_code.items() if m.urgent)


def _service_windows() -> dict:
    """city id (None: the default) -> (start, end) of N01's service window."""
    moment = MomentDefinition.objects.filter(code=DND_MOMENT).first()
    defaults = moment.threshold_defaults() if moment else {}
    base = {
        "service_start": defaults.get("service_start", DEFAULT_WINDOW[0]),
        "service_end": defaults.get("service_end", DEFAULT_WINDOW[1]),
    }
    per_city = defaultdict(dict)
    if moment is not None:
        for city, name, value in CityThreshold.objects.filter(
            moment=moment, name__in=tuple(base)
        ).values_list("city_id", "name", "value"):
            per_city[city][name] = threshold_value(value)
    windows = {None: _window(base)}
    windows.update({city: _window({**base, **values}) for city, values in per_city.items()})
    return _Windows(windows)


class _Windows(dict):
    def get(self, key, default=None):
        return super().get(key, self[None])


def _window(values: dict) -> tuple[time, time]:
    start = parse_hhmm(values["service_start"]) or parse_hhmm(DEFAULT_WINDOW[0])
    end = parse_hhmm(values["service_end"]) or parse_hhmm(DEFAULT_WINDOW[1])
    return start, end


def _truthy(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "t", "yes", "y", "是")
    return bool(value)
