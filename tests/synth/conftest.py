from pathlib import Path

import pytest

from keycare.synth.generator import generate

# One small delivery shared by the distribution, contract and churn-signal tests.
N_SUBSCRIBERS = 5_000
MONTHS = 6
SEED = 7


@pytest.fixture(scope="session")
def delivery(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "delivery"
    generate(out, subscribers=N_SUBSCRIBERS, months=MONTHS, seed=SEED)
    return out


@pytest.fixture(scope="session")
def duck(delivery):
    import duckdb

    con = duckdb.connect()
    for path in delivery.glob("*.parquet"):
        con.execute(f"CREATE VIEW {path.stem} AS SELECT * FROM read_parquet('{path}')")
    yield con
    con.close()
