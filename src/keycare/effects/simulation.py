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

    return report
