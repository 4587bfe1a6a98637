from keycare.signalling.detect import HOUR, MINUTE, Detector, Gate, Subscriber, contract_errors

T0 = 1_790_000_000_000
VIP = Subscriber("S1", city="杭州", value_tier="mid_high", roaming_package=False)


def ev(i, kind, t, **where):
    return {"event_id": f"e{i}", "type": kind, "subscriber_id": "S1", "event_time": t, **where}


def test_contract_names_what_is_wrong():
    assert contract_errors(ev(1, "roaming_start", T0)) == [
        "roaming_start needs mcc",
        "roaming_start needs country",
        "roaming_start needs city",
    ]
    assert contract_errors({"type": "warp"})[-1] == "unknown type 'warp'"
    assert contract_errors(ev(1, "attach", T0)) == []


def test_gate_drops_duplicates_and_events_behind_the_watermark():
    gate = Gate()
    assert gate.admit(ev(1, "attach", T0)) == "admitted"
    assert gate.admit(ev(1, "attach", T0)) == "duplicate"
    assert gate.admit(ev(2, "attach", T0 + 30 * MINUTE)) == "admitted"
    assert gate.watermark == T0 + 20 * MINUTE
    assert gate.admit(ev(3, "detach", T0 + 25 * MINUTE)) == "admitted"  # out of order, in time
    assert gate.admit(ev(4, "detach", T0 + 19 * MINUTE)) == "late"
    assert gate.counts == {"admitted": 3, "duplicate": 1, "late": 1, "invalid": 0}


def test_first_roaming_high_tariff_and_back_from_abroad():
    d = Detector()
    us = {"mcc": "310", "country": "US", "city": "Los Angeles"}
    hits = d.process(ev(1, "roaming_start", T0, **us), VIP, now_ms=T0 + 5_000)
    assert {(h.moment, h.window) for h in hits} == {("RT01", "2026"), ("RT02", "2026-09-21")}
    assert d.process(ev(2, "roaming_end", T0 + 3 * HOUR, mcc="310", country="US"), VIP, T0) == []
    d.process(ev(3, "roaming_start", T0 + 4 * HOUR, **us), VIP, now_ms=T0 + 4 * HOUR)
    back = d.process(ev(4, "roaming_end", T0 + 40 * HOUR, mcc="310", country="US"), VIP, T0)
    assert [(h.moment, h.facts["hours_abroad"]) for h in back] == [("RT04", 36.0)]


def test_stale_landing_is_not_served_and_package_holders_are_not_warned():
    d = Detector()
    us = {"mcc": "310", "country": "US", "city": "Los Angeles"}
    assert d.process(ev(1, "roaming_start", T0, **us), VIP, now_ms=T0 + 2 * HOUR) == []
    covered = Subscriber("S1", value_tier="mid_high", roaming_package=True)
    hits = d.process(ev(2, "roaming_start", T0, **us), covered, now_ms=T0)
    assert [h.moment for h in hits] == ["RT01"]


def test_phone_off_fires_on_event_time_per_city_threshold():
    moments = Detector().moments
    moments = {**moments, "RT03": {**moments["RT03"], "city_params": {"宁波": {"off_hours": 6}}}}
    d = Detector(moments)
    nb = Subscriber("S1", city="宁波", value_tier="mid_high")
    d.process(ev(1, "detach", T0), nb, T0)
    assert d.expire(T0 + 5 * HOUR, {"S1": nb}) == []
    [hit] = d.expire(T0 + 6 * HOUR, {"S1": nb})
    assert (hit.moment, hit.window, hit.facts) == ("RT03", str(T0), {"off_hours": 6})
    d.process(ev(2, "detach", T0 + 7 * HOUR), nb, T0)
    d.process(ev(3, "attach", T0 + 8 * HOUR), nb, T0)
    assert d.expire(T0 + 20 * HOUR, {"S1": nb}) == []  # back on before the threshold
    mass = Subscriber("S2", value_tier="mass")
    d.process({**ev(4, "detach", T0), "subscriber_id": "S2"}, mass, T0)
    assert d.expire(T0 + 99 * HOUR, {"S2": mass}) == []
