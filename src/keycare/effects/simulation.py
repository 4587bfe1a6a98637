"""What the effects app adds to the closed-loop simulation (keycare.synth.loop): the built-in
tactics matrix as the simulated managers' suggestions, policy parsing and the terminal
progress line. No database."""

from __future__ import annotations

import sys

from keycare.engine.definitions import load_definitions
from keycare.errors import UserError
from keycare.moments import tactics as tactic_lib
from keycare.synth.loop import Policy

TIERS = ("mid_high", "mass")
POLICY_KEYS = {
    "name": str,
    "control": float,
    "capacity": float,
    "cap_days": int,
}


def builtin_suggest():
    """suggest(moments, tier, risk) over the built-in tactics matrix (first tactic is used)."""
    defs = load_definitions()
    categories = {code: m.category for code, m in defs.by_code.items()}
    library = tactic_lib.parse_library(
        tactic_lib.read_builtin_document(), moment_categories=categories, tiers=TIERS
    )

    def suggest(moments, tier, risk):
        pairs = [(code, categories.get(code, "")) for code in moments]
        return tactic_lib.suggest(library, pairs, tier, risk)

    return suggest


def parse_policy(text: str, default_name: str) -> Policy:
    """``control=0.1,capacity=1.5,cap_days=7,A01.min_count=2`` -> Policy.

    ``CODE.threshold=value`` sets a moment threshold for every city.
    """
    values: dict = {"name": default_name}
    thresholds: dict = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep:
            raise UserError(f"policy '{text}': '{part}' is not key=value")
        try:
            if "." in key and key.split(".")[0].isupper():
                code, name = key.split(".", 1)
                thresholds.setdefault(code, {})[name] = float(value)
            elif key in POLICY_KEYS:
                values[key] = POLICY_KEYS[key](value)
            else:
                known = ", ".join([*POLICY_KEYS, "CODE.threshold"])
                raise UserError(f"policy '{text}': unknown key '{key}' (known: {known})")
        except ValueError:
            raise UserError(f"policy '{text}': '{value}' is not a number for {key}") from None
    return Policy(
        name=values["name"],
        control_share=values.get("control", Policy.control_share),
        capacity_factor=values.get("capacity", Policy.capacity_factor),
        contact_cap_days=values.get("cap_days", Policy.contact_cap_days),
        thresholds=thresholds,
    )


def print_progress(write=None, label: str = "simulate"):
    """One line per simulated day (on stderr unless ``write`` is given)."""
    write = write or (lambda line: print(line, file=sys.stderr, flush=True))

    def report(day: int, days: int, info: dict) -> None:
        decisions = info.get("decisions", {})
        shown = ", ".join(f"{k} {v}" for k, v in sorted(decisions.items()))
        write(
            f"{label}: day {day}/{days}: {shown or 'no candidates'}; reached {info['contacts']}, "
            f"churned {info['churned']}, downgraded {info['downgraded']} ({info['seconds']} s)"
        )

    report.say = lambda message: write(f"{label}: {message}")  # one-off steps (training)
    return report


def compare(cfgs, out, *, progress_write=None) -> list[dict]:
    """Run the same world (one base delivery, one seed) under each policy, side by side.

    Per policy: the true churn avoided (the simulation knows the never-served world) and the
    estimate a head of service would get from the control group (30-day uplift per moment
    times the treated exposures), each per 100 manager-hours.
    """
    from pathlib import Path

    from keycare.engine.effect import evaluate
    from keycare.synth import generator
    from keycare.synth.loop import simulate

    out = Path(out)
    first = cfgs[0]
    base = out / "base"
    generator.generate(
        base, subscribers=first.subscribers, months=first.months, seed=first.seed, as_of=first.start
    )
    suggest = builtin_suggest()
    rows = []
    for cfg in cfgs:
        target = out / cfg.policy.name
        manifest = simulate(
            cfg,
            target,
            base=base,
            suggest=suggest,
            progress=print_progress(progress_write, label=cfg.policy.name),
        )
        # The 30-day estimate needs 30 days of follow-up; shorter runs use half their length.
        horizon = 30 if cfg.days > 30 else max(1, cfg.days // 2)
        report = evaluate(target, horizons=(horizon,), qini=False)
        rows.append(_policy_row(manifest, report, horizon))
    return rows


def _policy_row(manifest: dict, report, horizon: int) -> dict:
    totals = manifest["totals"]
    hours = totals["manager_hours"]
    estimated = -sum(r["uplift"] * r["treated"] for r in report.moments(horizon) if r["uplift"])
    return {
        "policy": manifest["policy"]["name"],
        "control_share": manifest["policy"]["control_share"],
        "capacity_factor": manifest["policy"]["capacity_factor"],
        "thresholds": manifest["policy"]["thresholds"],
        "calls": totals["calls"],
        "sms": totals["sms"],
        "manager_hours": hours,
        "churned": totals["churned"],
        "churn_avoided": totals["churn_avoided"],
        "churn_avoided_per_100_hours": totals["churn_avoided_per_100_hours"],
        "estimate_horizon_days": horizon,
        "estimated_avoided": round(estimated, 1),
        "estimated_per_100_hours": round(100 * estimated / hours, 3) if hours else None,
    }


COMPARE_COLUMNS = (
    ("control_share", "对照组比例 control share"),
    ("capacity_factor", "容量系数 capacity factor"),
    ("calls", "外呼 calls"),
    ("sms", "短信 SMS"),
    ("manager_hours", "客户经理工时 manager-hours"),
    ("churned", "离网 churned"),
    ("churn_avoided", "避免离网(真值) churn avoided (truth)"),
    ("churn_avoided_per_100_hours", "每百工时避免离网(真值) per 100 h (truth)"),
    ("estimate_horizon_days", "估计观察期(天) estimate horizon (days)"),
    ("estimated_avoided", "对照组估计避免离网 estimated from control"),
    ("estimated_per_100_hours", "每百工时(估计) per 100 h (estimate)"),
)


def compare_table(rows: list[dict]) -> list[str]:
    width = max(len(label) for _, label in COMPARE_COLUMNS)
    lines = [f"{'':<{width}}  " + "  ".join(f"{r['policy']:>14}" for r in rows)]
    for key, label in COMPARE_COLUMNS:
        cells = "  ".join(f"{_cell(r[key]):>14}" for r in rows)
        lines.append(f"{label:<{width}}  {cells}")
    return lines


def _cell(value) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.3f}".rstrip("0").rstrip(".") if isinstance(value, float) else f"{value:,}"
