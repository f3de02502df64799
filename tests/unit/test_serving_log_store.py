"""The prediction log on SQLite: WAL, durable rows, sensitive columns, feedback, the read API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import sqlalchemy as sa

from loopwatch.serving.feedback import FeedbackItem
from loopwatch.serving.log_store import LogStore
from loopwatch.serving.policy import DecisionPolicy
from loopwatch.serving.rows import build_rows

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def rows_for(n, version="1", now=T0, sensitive=True, epsilon=0.0):
    proba = np.column_stack([np.linspace(0.9, 0.1, n), np.linspace(0.1, 0.9, n)])
    policy = DecisionPolicy(0.5, epsilon)
    rows, _ = build_rows(
        model_name="m", model_version=version, classes=("no", "yes"),
        inputs=[{"color": "red", "x1": float(i), "score": 1} for i in range(n)],
        sensitive=[{"group": "ab"[i % 2]} for i in range(n)] if sensitive else [],
        proba=proba, decisions=policy.decide(proba[:, 1], np.random.default_rng(0)),
        policy=policy, source="http", request_id="req", metadata={"k": "v"}, now=now)
    return rows


@pytest.fixture
def store(tmp_path):
    s = LogStore(f"sqlite:///{tmp_path / 'state' / 'predictions.db'}")
    yield s
    s.close()


def test_sqlite_runs_in_wal_mode_with_full_sync(store):
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL


def test_in_memory_sqlite_is_refused():
    with pytest.raises(ValueError, match="must be a file"):
        LogStore("sqlite://")


def test_rows_round_trip_with_sensitive_columns_and_utc_times(store, tmp_path):
    assert store.write_predictions(rows_for(4)) == 4
    assert store.sensitive_columns() == ["group"]
    frame = store.read()
    assert len(frame) == 4 and frame["prediction_id"].is_unique
    assert str(frame["timestamp"].dt.tz) == "UTC" and frame["timestamp"].iloc[0] == T0
    assert frame["group"].tolist() == ["a", "b", "a", "b"]
    assert frame["prediction"].tolist() == ["no", "no", "yes", "yes"]
    assert frame["decision"].tolist() == ["deny", "deny", "approve", "approve"]
    assert {"prob_no", "prob_yes", "propensity", "explored", "label"} <= set(frame.columns)
    assert frame["x1"].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert "input_score" in frame.columns  # an input named like a log column is prefixed
    assert frame["label"].isna().all()
    # A reopened store finds the added column again.
    again = LogStore(store.url)
    assert again.sensitive_columns() == ["group"] and again.count() == 4


def test_rows_without_sensitive_values_and_new_attributes(store):
    store.write_predictions(rows_for(2, sensitive=False))
    rows = rows_for(1, now=T0 + timedelta(seconds=1))
    rows[0]["sensitive"] = {"group": "a", "region": "north"}
    store.write_predictions(rows)
    frame = store.read()
    assert frame["region"].tolist() == [None, None, "north"]
    with pytest.raises(ValueError, match="column name"):
        store.ensure_sensitive(["bad name; drop table"])


def test_window_and_version_filters(store):
    store.write_predictions(rows_for(2, "1", T0))
    store.write_predictions(rows_for(3, "2", T0 + timedelta(hours=1)))
    assert len(store.read(T0, T0 + timedelta(minutes=30))) == 2
    assert len(store.read(start="2024-05-01T12:30:00")) == 3  # naive ISO text = UTC
    assert len(store.read(model_version=2)) == 3
    assert len(store.read(model_name="other")) == 0
    assert list(store.read(model_name="other").columns)[:2] == ["prediction_id", "timestamp"]


def test_duplicate_ids_are_refused_and_nothing_is_half_written(store):
    rows = rows_for(3)
    store.write_predictions(rows[:1])
    with pytest.raises(sa.exc.IntegrityError):
        store.write_predictions(rows)  # rows[0] again
    assert store.count() == 1


def test_feedback_is_joined_idempotent_and_conflicts_are_rejected(store):
    rows = rows_for(3)
    store.write_predictions(rows)
    a, b, c = (r["id"] for r in rows)
    arrived = T0 + timedelta(days=3)
    report = store.add_feedback([
        FeedbackItem(prediction_id=a, label="yes", origin="organic", arrived_at=arrived),
        FeedbackItem(prediction_id=b, label="no", origin="model-selected"),
        FeedbackItem(prediction_id="nope", label="no", origin="organic"),
        FeedbackItem(prediction_id=c, label="maybe", origin="organic"),
    ])
    assert report.accepted == [a, b] and report.unknown == ["nope"]
    assert "not one of the model's classes" in report.conflicts[0]["message"]
    assert report.status == 409
    again = store.add_feedback([FeedbackItem(prediction_id=a, label="yes", origin="organic")])
    assert again.duplicates == [a] and again.ok and again.status == 200
    clash = store.add_feedback([FeedbackItem(prediction_id=a, label="no", origin="organic")])
    assert clash.status == 409 and "already has label 'yes'" in clash.conflicts[0]["message"]
    assert store.count("feedback") == 2
    frame = store.read().set_index("prediction_id")
    assert frame.loc[a, "label"] == "yes" and frame.loc[a, "label_origin"] == "organic"
    assert frame.loc[a, "label_arrived_at"] == arrived
    assert frame.loc[b, "label"] == "no" and frame.loc[c, "label"] is None
