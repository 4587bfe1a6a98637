"""Complaint and consultation texts: varied, consistent with their topic, truth kept apart,
and deliveries without the new (optional) columns still load."""

import json

import duckdb
import pyarrow.parquet as pq

from keycare.engine.backends import connect
from keycare.engine.ingest import ingest
from keycare.synth import complaints as synth_texts
from keycare.synth.generator import generate


def _events(delivery):
    return duckdb.connect().sql(f"SELECT * FROM '{delivery / 'events.parquet'}'")


def test_complaints_and_bill_queries_carry_texts_and_results(delivery):
    rows = (
        duckdb.connect()
        .sql(
            f"""SELECT event_type, count(*) AS n, count(text) AS texts,
                   count(handling_result) AS results, count(resolved) AS flags,
                   avg(resolved::int) AS share
            FROM '{delivery / "events.parquet"}' GROUP BY 1"""
        )
        .fetchall()
    )
    by_type = {r[0]: r[1:] for r in rows}
    for kind in ("complaint", "bill_query"):
        n, texts, results, flags, share = by_type[kind]
        assert n > 50 and texts == results == flags == n
        assert 0.55 < share < 0.85
    assert by_type["top_up"][1] == 0  # other events have no text


def test_texts_are_varied(delivery):
    n, distinct = (
        duckdb.connect()
        .sql(
            f"SELECT count(*), count(DISTINCT text) FROM '{delivery / 'events.parquet'}' "
            "WHERE text IS NOT NULL"
        )
        .fetchall()[0]
    )
    assert distinct / n > 0.9


def test_truth_is_beside_the_delivery_and_matches_the_topics(delivery):
    manifest = json.loads((delivery / "manifest.json").read_text(encoding="utf-8"))
    assert "truth_complaints" not in manifest["files"]
    truth = pq.read_table(delivery / manifest["truth"]["complaints"]["path"])
    events = _events(delivery)
    assert "cause" not in events.columns and "need" not in events.columns
    joined = (
        duckdb.connect()
        .sql(
            f"""SELECT e.event_type, e.category, t.cause, t.need
            FROM '{delivery / "events.parquet"}' e JOIN truth t USING (event_id)"""
        )
        .fetchall()
    )
    assert len(joined) == truth.num_rows == manifest["truth"]["complaints"]["rows"]
    for event_type, category, cause, need in joined:
        allowed = (
            synth_texts.TOPIC_CAUSES[category]
            if event_type == "complaint"
            else synth_texts.QUERY_CAUSES[event_type]
        )
        assert cause in allowed
        assert need in synth_texts.CAUSE_NEEDS[cause]


def test_every_cause_is_written_in_several_ways():
    data = synth_texts.sample(3000, seed=1)
    assert set(data["cause"]) == set(synth_texts.all_causes())
    for cause in synth_texts.all_causes():
        texts = {t for t, c in zip(data["text"], data["cause"], strict=True) if c == cause}
        assert len(texts) > 100, cause


def test_a_delivery_without_the_text_columns_still_loads(tmp_path):
    out = tmp_path / "d"
    generate(out, subscribers=300, months=2, seed=4)
    path = out / "events.parquet"
    old = pq.read_table(path).drop_columns(["text", "handling_result", "resolved"])
    pq.write_table(old, path)
    backend = connect("duckdb")
    try:
        result = ingest(backend, out, staging_dir=tmp_path / "work", quarantine_limit=1.0)
        assert result.files["events"].accepted == old.num_rows
        assert backend.scalar("SELECT count(text) FROM events") == 0
    finally:
        backend.close()
