"""Summarise a load run: p50/p95/p99 per request type against the targets, error ratio, 5xx,
the login phase and the load average. Usage: report.py OUT_DIR (as run.sh writes it)."""

from __future__ import annotations

import csv
import json
import re
import sys
from pathlib import Path

# Issue 7: p95 <= 200 ms for the workbench and the API lists, <= 1 s for dashboards.
# Issue 19: every analysis page (and the analyst workbench, exports) p95 <= 1 s at 1M customers.
TARGETS_MS = [
    ("/analytics/", 1000),
    ("/admin-workbench/", 1000),
    ("/workbench/", 200),
    ("/tasks/?", 200),
    ("/api/", 200),
]


def target(name: str) -> int | None:
    return next((ms for prefix, ms in TARGETS_MS if name.startswith(prefix)), None)


def main(out: Path) -> int:
    rows = _stats(out / "locust_stats.csv")
    status = _json(out / "status.json")
    logins = _json(out / "logins.json")
    lines = [f"working day: {status.get('working_day_seconds', '?')} s after the last login"]
    lines.append(
        f"{'request':38} {'n':>6} {'fail':>5} {'p50':>6} {'p95':>6} {'p99':>6} {'max':>6} target"
    )
    missed = []
    for row in rows:
        if row["Name"] == "Aggregated":
            continue
        p95 = _ms(row["95%"])
        goal = target(row["Name"])
        verdict = ""
        if goal is not None and int(row["Request Count"]):
            verdict = f"<= {goal}: " + ("ok" if p95 <= goal else "MISSED")
            if p95 > goal:
                missed.append(row["Name"])
        lines.append(_line(f"{row['Type']} {row['Name']}", row) + f" {verdict}")
    total = next((r for r in rows if r["Name"] == "Aggregated"), None)
    if total:
        lines.append(_line("all", total))
        n, failed = int(total["Request Count"]), int(total["Failure Count"])
        lines.append(f"error ratio: {failed}/{n} = {failed / max(n, 1):.4%}")
    codes = status.get("working_day", {})
    server_errors = sum(v for k, v in codes.items() if str(k).isdigit() and int(k) >= 500)
    lines.append(f"status codes: {dict(sorted(codes.items()))}; 5xx: {server_errors}")
    if logins:
        lines.append(f"login phase ({logins['seconds']} s, statistics kept apart):")
        for entry in logins["entries"]:
            if entry["name"].startswith("login"):
                lines.append(
                    f"  {entry['method']} {entry['name']}: n={entry['requests']} "
                    f"fail={entry['failures']} p50={entry['p50']} p95={entry['p95']} "
                    f"p99={entry['p99']} ms"
                )
    lines.append("load average (1/5/15 min) during the run: " + _loadavg(out / "loadavg.txt"))
    lines.append("CPU busy (all cores, from /proc/stat): " + _busy(out / "loadavg.txt"))
    lines.append(_server_times(out / "access.log"))
    lines.append("targets missed: " + (", ".join(missed) if missed else "none"))
    text = "\n".join(lines)
    (out / "summary.txt").write_text(text + "\n")
    print(text)
    return 0


def _stats(path: Path) -> list[dict]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _ms(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return float("nan")


def _line(label: str, row: dict) -> str:
    cells = [row["50%"], row["95%"], row["99%"], f"{_ms(row['Max Response Time']):.0f}"]
    return f"{label[:38]:38} {row['Request Count']:>6} {row['Failure Count']:>5} " + " ".join(
        f"{c:>6}" for c in cells
    )


def _loadavg(path: Path) -> str:
    try:
        samples = [line.split() for line in path.read_text().splitlines() if line.strip()]
    except OSError:
        return "not recorded"
    ones = [float(s[1]) for s in samples if len(s) >= 4]
    if not ones:
        return "not recorded"
    return (
        f"1-min min {min(ones):.1f}, mean {sum(ones) / len(ones):.1f}, max {max(ones):.1f} "
        f"({len(ones)} samples; last {' '.join(samples[-1][1:4])})"
    )


def _busy(path: Path) -> str:
    # Columns after the load averages: "cpu user nice system idle iowait irq softirq steal".
    try:
        rows = [line.split() for line in path.read_text().splitlines() if "cpu" in line]
    except OSError:
        return "not recorded"
    ticks = [[int(v) for v in r[r.index("cpu") + 1 : r.index("cpu") + 9]] for r in rows]
    if len(ticks) < 2:
        return "not recorded"
    delta = [b - a for a, b in zip(ticks[0], ticks[-1], strict=True)]
    total = sum(delta) or 1
    idle, steal = delta[3] + delta[4], delta[7]
    return f"{1 - idle / total:.0%} (steal {steal / total:.1%})"


ACCESS = re.compile(r'"(?P<method>GET|POST) (?P<path>[^ ?]*)[^"]*" \d{3} .* (?P<ms>\d+)$')
LOGIN_PATHS = ("/accounts/login/", "/api/auth/token/")


def _server_times(path: Path) -> str:
    """Time inside gunicorn (%(M)s, ms) after the last login, for the workbench and for every
    request: against locust's figures, the rest is queueing for a worker thread and the
    client's own delay."""
    try:
        matches = [ACCESS.search(line) for line in path.read_text().splitlines()]
    except OSError:
        return "server time: not recorded"
    matches = [m for m in matches if m]
    logins = [i for i, m in enumerate(matches) if m["path"] in LOGIN_PATHS]
    day = matches[logins[-1] + 1 :] if logins else matches
    times = {"all": [float(m["ms"]) for m in day]}
    times["/workbench/"] = [float(m["ms"]) for m in day if m["path"] == "/workbench/"]
    parts = []
    for name, values in times.items():
        if values:
            values.sort()
            p50, p95 = values[len(values) // 2], values[int(len(values) * 0.95)]
            parts.append(f"{name} n={len(values)} p50={p50:.0f} p95={p95:.0f}")
    return "server time (gunicorn, ms): " + ("; ".join(parts) or "not recorded")


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
