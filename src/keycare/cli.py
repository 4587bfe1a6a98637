"""The ``keycare`` console script: KeyCare's management commands under one name.

``keycare --help`` lists KeyCare's own commands; any other Django management command
(``keycare migrate``, ``keycare runserver``...) is passed through unchanged.
"""

import os
import sys

# Commands that belong to KeyCare, in the order an operator meets them.
KEYCARE_COMMANDS = {
    "demo": "generate a demo operator, load it, run the daily pipeline and serve the app",
    "catalog": "print the unified customer view field catalog (md, csv or json)",
    "synth": "write a synthetic operator's files per the data contract",
    "signalling": "real-time moments: produce a synthetic signalling stream or consume it (Redis Streams)",
    "signalling_spark": "real-time moments as a Spark Structured Streaming query (same stream, checkpointed)",
    "load": "load organisation, managers, customer archive and assignments into the app",
    "syncmoments": "import the 29 built-in key-moment definitions into the application",
    "run": "run the daily key-moment pipeline for a business date",
    "loadrun": "load a published run (detections, suppressions, tasks) into the application",
    "runjob": "run a daily run requested from the web page (started by the app, in the background)",
    "escalate": "escalate work orders whose SLA is breached (run it from cron)",
    "risk": "train, version and evaluate churn-risk models",
    "users": "create the demo users, one per role",
    "monthlyreport": "build a monthly analysis report (Excel and PDF); run from cron on the 3rd",
    "tiers": "score the key accounts and set their tiers A1/A2/B1/B2/C (--preview)",
    "grouprules": "key-account service rules: credit, key-customer levels, candidates, points (--preview)",
    "assess": "compute the account managers' KPI assessment of a month (Excel export)",
    "reminders": "send the managers' daily reminder digest (SMS through the outbox, e-mail)",
    "sms_send": "send the SMS outbox's due messages through the gateway (progress on the terminal)",
    "sms_worker": "run the Celery worker that sends SMS (KEYCARE_SMS_BROKER, e.g. Redis)",
    "sms_receipts": "receive SMS delivery reports from the gateway (Kannel dlr-url)",
    "sms_gateway": "run a local Kannel SMS gateway with a fake SMSC on loopback (demo, development)",
    "simulate": "simulate the closed service loop day by day with known effects (ground truth)",
    "effect": "evaluate treated vs control per moment, campaign, tactic, manager and city",
    "complaints": "complaint texts: train, classify a CSV, evaluate macro-F1, load a delivery's texts",
    "knowledge": "rebuild the service knowledge graph's aggregate edges",
}


def _usage() -> str:
    width = max(map(len, KEYCARE_COMMANDS))
    lines = [
        "usage: keycare <command> [options]",
        "",
        "KeyCare commands:",
        *(f"  {name:<{width}}  {text}" for name, text in KEYCARE_COMMANDS.items()),
        "",
        "Every Django management command (migrate, runserver, createsuperuser, ...) works too.",
        "'keycare <command> --help' shows a command's options.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(_usage())
        return 0
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keycare.config.settings")
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(["keycare", *argv])
    except KeyboardInterrupt:
        print("keycare: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
