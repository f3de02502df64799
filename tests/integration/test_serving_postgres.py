"""The same prediction log code on a real PostgreSQL (a throwaway cluster per test session)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from loopwatch.config import ServingParams
from loopwatch.serving.champion import StaticSource
from loopwatch.serving.feedback import FeedbackItem
from loopwatch.serving.log_store import LogStore
from loopwatch.tasks.tabular.routes import create_tabular_app
from tests.conftest import tiny_table
from tests.support import champion_of, records_of, tiny_predictor
from tests.unit.test_serving_log_store import T0, rows_for


@pytest.fixture
def pg_store(postgres_url):
    store = LogStore(postgres_url)
    assert store.engine.dialect.name == "postgresql"
    yield store
    with store.engine.begin() as conn:  # each test starts from empty tables
        conn.exec_driver_sql("DROP TABLE IF EXISTS feedback, predictions")
    store.close()


def test_round_trip_window_and_sensitive_columns(pg_store):
    pg_store.write_predictions(rows_for(4, "1", T0))
    pg_store.write_predictions(rows_for(2, "2", T0 + timedelta(hours=1)))
    frame = pg_store.read()
    assert len(frame) == 6 and str(frame["timestamp"].dt.tz) == "UTC"
    assert frame["timestamp"].iloc[0] == T0
    assert frame["group"].tolist()[:4] == ["a", "b", "a", "b"]
    assert len(pg_store.read(T0, T0 + timedelta(minutes=1))) == 4
    assert len(pg_store.read(model_version="2")) == 2
    columns = {c["name"] for c in sa.inspect(pg_store.engine).get_columns("predictions")}
    assert "sensitive_group" in columns
    assert LogStore(pg_store.url).sensitive_columns() == ["group"]


def test_feedback_rules_hold_on_postgres(pg_store):
    rows = rows_for(2)
    pg_store.write_predictions(rows)
    a, b = rows[0]["id"], rows[1]["id"]
    report = pg_store.add_feedback([FeedbackItem(prediction_id=a, label="yes", origin="organic"),
                                    FeedbackItem(prediction_id="zz", label="no",
                                                 origin="organic")])
    assert report.accepted == [a] and report.unknown == ["zz"]
    assert pg_store.add_feedback([FeedbackItem(prediction_id=a, label="yes",
                                               origin="organic")]).duplicates == [a]
    clash = pg_store.add_feedback([FeedbackItem(prediction_id=a, label="no", origin="organic")])
    assert clash.status == 409
    frame = pg_store.read().set_index("prediction_id")
    assert frame.loc[a, "label"] == "yes" and frame.loc[b, "label"] is None


def test_the_service_logs_to_postgres_under_concurrency(pg_store):
    spec, frame = tiny_table(100)
    app = create_tabular_app(StaticSource(champion_of(tiny_predictor(spec, frame))), pg_store,
                     ServingParams())
    body = {"records": records_of(frame.head(5), [*spec.inputs, "group"])}
    with TestClient(app) as client, ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda _: client.post("/predict", json=body), range(40)))
    assert all(r.status_code == 200 for r in responses)
    ids = {p["prediction_id"] for r in responses for p in r.json()["predictions"]}
    assert len(ids) == 200 and pg_store.ids() == ids
