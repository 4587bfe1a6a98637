"""CPU seconds spent by PostgreSQL, gunicorn and locust over a window of a load run.

    .venv/bin/python benchmarks/load/cpu_by_process.py 240   # start it once the logins are done

Reads /proc before and after: user + system time of every process, children reaped included
(PostgreSQL's parallel workers are reaped by the postmaster), grouped by command line. Tells
which side of the load test the 2 cores are spent on, which a latency figure cannot.
"""

from __future__ import annotations

import os
import sys
import time

TICKS = os.sysconf("SC_CLK_TCK")
GROUPS = (("postgres", "postgres"), ("postmaster", "postgres"), ("gunicorn", "gunicorn"))


def _group(cmdline: str) -> str:
    for needle, group in (*GROUPS, ("locust", "locust")):
        if needle in cmdline:
            return group
    return "other"


def snapshot() -> dict[str, tuple[str, float]]:
    seen = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as stat, open(f"/proc/{pid}/cmdline") as cmd:
                fields = stat.read().rsplit(")", 1)[1].split()
                cmdline = cmd.read().replace("\0", " ")
        except OSError:
            continue  # the process ended meanwhile
        utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
        seen[pid] = (_group(cmdline), (utime + stime + cutime + cstime) / TICKS)
    return seen


def busy_seconds() -> float:
    with open("/proc/stat") as stat:
        values = [int(x) for x in stat.readline().split()[1:]]
    return (sum(values) - values[3] - values[4]) / TICKS  # all but idle and iowait


def main() -> int:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 240.0
    before, busy_before, started = snapshot(), busy_seconds(), time.monotonic()
    time.sleep(seconds)
    after, busy_after = snapshot(), busy_seconds()
    by_group: dict[str, float] = {}
    for pid, (group, cpu) in after.items():
        by_group[group] = by_group.get(group, 0.0) + cpu - before.get(pid, (group, 0.0))[1]
    elapsed = time.monotonic() - started
    print(f"over {elapsed:.0f} s: the machine was busy {busy_after - busy_before:.1f} CPU-s")
    for group, cpu in sorted(by_group.items(), key=lambda item: -item[1]):
        print(f"  {group:10} {cpu:7.1f} CPU-s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
