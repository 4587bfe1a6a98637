"""The one place that knows the published run's file and column names.

The data plane publishes a run under ``runs_dir/<business_date>/`` (see
``keycare.engine.publish``). Each logical field below lists the column names accepted for it,
first match wins, so a rename on the engine side is a one-line change here.
"""

RUN_RECORD = "run.json"

FILES = {
    "detections": "detections.parquet",
    "suppressions": "suppressions.parquet",
    "quarantine": "quarantine.parquet",
    "tasks": "tasks.parquet",  # allocation output (issue 4); optional
    "decisions": "decisions.parquet",  # allocation output (issue 4); optional
    "risk": "risk_scores.parquet",  # risk scoring output (issue 4); optional
    "indicators": "indicators.parquet",  # indicator layer (issue 19); optional
    "group_detections": "group_detections.parquet",  # group moments (issue 17); optional
    "group_tiers": "group_tiers.parquet",  # value score and tier per group (issue 17); optional
}

COLUMNS = {
    # engine/groups.py: one row per group and moment, with the group's manager.
    "group_detections": {
        c: (c,)
        for c in (
            "key_account_id",
            "moment_code",
            "priority",
            "params",
            "explanation",
            "manager_id",
        )
    },
    # engine/group_tiers.py: one row per active group.
    "group_tiers": {c: (c,) for c in ("key_account_id", "value_score", "tier", "policy_version")},
    # engine/indicators.py: one row per indicator, period, dimension member and city.
    "indicators": {
        c: (c,)
        for c in ("indicator", "grain", "period", "dimension", "member", "city_id", "num", "den")
    },
    "detections": {
        "subscriber_id": ("subscriber_id",),
        "moment_code": ("moment_code", "code"),
        "priority": ("priority",),
        "channel": ("channel",),
        "params": ("params", "parameters"),
        "explanation": ("explanation", "description"),
    },
    "suppressions": {
        "subscriber_id": ("subscriber_id",),
        "moment_code": ("moment_code", "code"),
        "reason": ("reason", "explanation"),
        "suppressed_codes": ("suppressed_codes",),
    },
    "quarantine": {
        "file": ("file", "source_file"),
        "row_number": ("row_number", "row", "line"),
        "raw": ("raw", "raw_text"),
        "rule": ("rule",),
        "reason": ("reason",),
    },
    "tasks": {
        "subscriber_id": ("subscriber_id",),
        "manager_id": ("manager_id",),
        # allocate.py's tasks carry decision call | sms | deferred; only call/sms become tasks.
        "channel": ("channel", "decision"),
        "cycle": ("cycle",),
        "priority_score": ("priority_score", "score"),
        "risk_probability": ("risk_probability", "churn_probability", "probability", "risk"),
        "reasons": ("reasons", "risk_reasons", "top_reasons"),
        "moment_codes": ("moment_codes", "moments", "codes"),
        "health_scores": ("health_scores", "health"),
    },
    # One row per candidate (subscriber x moment), as allocate.py's allocation_decisions.
    "decisions": {
        "subscriber_id": ("subscriber_id",),
        "moment_code": ("moment_code", "code"),
        "manager_id": ("manager_id",),
        "decision": ("decision",),
        "reason": ("reason",),
        "age_days": ("age_days", "age"),
        "cycle": ("cycle",),
        "priority_score": ("priority_score", "score"),
        "source": ("source",),
    },
    "risk": {
        "subscriber_id": ("subscriber_id",),
        "risk_probability": ("risk_probability", "churn_probability", "probability"),
        "seed_score": ("seed_score",),
        "model_version": ("model_version",),
        "reasons": ("reasons", "risk_reasons", "top_reasons"),
        "health_scores": ("health_scores", "health"),
    },
}

# Values of the tasks' channel/decision column that make a task (deferred ones do not).
TASK_DECISIONS = ("call", "sms")

# Columns with this prefix are gathered into the health-scores dict when there is no
# single health_scores column (e.g. health_tariff_brand, health_call_circle, ...).
HEALTH_PREFIX = "health_"

# Keys of run.json -> Run fields (first match wins).
RUN_KEYS = {
    "run_id": ("run_id", "id"),
    "business_date": ("business_date", "date"),
    "status": ("status",),
    "engine": ("engine",),
    "definitions_version": ("definitions_version", "definitions_hash"),
    "model_version": ("model_version", "risk_model_version"),
    "inputs": ("inputs", "checksums"),
    "timings": ("steps", "timings", "step_timings"),
    "counts": ("counts", "counts_per_moment", "moment_counts"),
    "quarantined": ("quarantined", "quarantine_rows"),
    "suppressed": ("suppressed",),
    "started_at": ("started_at", "started"),
    "finished_at": ("finished_at", "finished"),
}
