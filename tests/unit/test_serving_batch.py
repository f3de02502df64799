"""Batch scoring of CSV and Parquet files into the same prediction log."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from loopwatch.serving.log_store import LogStore
from loopwatch.serving.policy import DecisionPolicy
from loopwatch.tasks.tabular.batch import score_file
from tests.conftest import tiny_table
from tests.support import champion_of, tiny_predictor

SPEC, FRAME = tiny_table(250)


@pytest.fixture(scope="module")
def champion():
    return champion_of(tiny_predictor(SPEC, FRAME))


@pytest.fixture
def store(tmp_path):
    s = LogStore(f"sqlite:///{tmp_path / 'p.db'}")
    yield s
    s.close()


@pytest.mark.parametrize("fmt_in, fmt_out", [("csv", "parquet"), ("parquet", "csv")])
def test_every_row_is_scored_and_logged(tmp_path, champion, store, fmt_in, fmt_out):
    src, out = tmp_path / f"in.{fmt_in}", tmp_path / f"out.{fmt_out}"
    getattr(FRAME, f"to_{fmt_in}")(src, index=False)
    result = score_file(src, out, champion, store, DecisionPolicy(0.5, 0.1),
                        rng=np.random.default_rng(0), chunk_rows=64, progress=False)
    assert result.rows == 250 and result.model_version == "1"
    scored = pd.read_parquet(out) if fmt_out == "parquet" else pd.read_csv(out)
    assert len(scored) == 250 and scored["label"].tolist() == FRAME["label"].tolist()
    assert {"prediction_id", "prediction", "prob_no", "prob_yes", "decision", "propensity",
            "explored"} <= set(scored.columns)
    logged = store.read()
    assert len(logged) == 250 and set(logged["prediction_id"]) == set(scored["prediction_id"])
    assert (logged["source"] == "batch").all() and logged["request_id"].nunique() == 1
    assert logged["position"].tolist() == list(range(250))
    assert logged["group"].tolist() == FRAME["group"].tolist()
    assert set(np.round(logged["propensity"], 6)) == {0.95, 0.05}
    assert not (tmp_path / f".out.{fmt_out}.partial").exists()
    # Same scores as the HTTP fast path: one model, one answer.
    fast = champion.predict_proba(logged[list(SPEC.inputs)].astype(object)
                                  .where(logged[list(SPEC.inputs)].notna(), None)
                                  .to_dict("records"))
    np.testing.assert_allclose(logged[["prob_no", "prob_yes"]].to_numpy(), fast, atol=1e-6)


def test_bad_values_and_missing_columns_are_named(tmp_path, champion, store):
    bad = FRAME.astype({"x2": object}).copy()
    bad.loc[7, "x2"] = "seven"
    bad.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ValueError, match="bad.csv row 7: column 'x2'"):
        score_file(tmp_path / "bad.csv", tmp_path / "o.csv", champion, store, DecisionPolicy(),
                   progress=False)
    FRAME.drop(columns=["x1"]).to_csv(tmp_path / "nox.csv", index=False)
    with pytest.raises(ValueError, match=r"lacks the model input column\(s\) \['x1'\]"):
        score_file(tmp_path / "nox.csv", tmp_path / "o.csv", champion, store, DecisionPolicy(),
                   progress=False)
    with pytest.raises(ValueError, match="unsupported format"):
        score_file(tmp_path / "nox.csv", tmp_path / "o.xlsx", champion, store, DecisionPolicy())
    assert store.count() == 0 and not (tmp_path / "o.csv").exists()


def test_unscorable_unreadable_and_empty_files_are_one_clear_error_and_log_nothing(
        tmp_path, champion, store):
    def refused(name: str, match: str):
        with pytest.raises(ValueError, match=match):
            score_file(tmp_path / name, tmp_path / "o.csv", champion, store, DecisionPolicy(),
                       chunk_rows=64, progress=False)

    huge = FRAME.copy()
    huge.loc[3, "x1"] = 1e308  # finite, but it overflows the network: no score
    huge.to_csv(tmp_path / "huge.csv", index=False)
    refused("huge.csv", r"huge.csv row 3: the model cannot score these values .*column 'x1'")
    (tmp_path / "latin1.csv").write_bytes("color,x1\nrouge,1\nvert\xe9,2\n".encode("latin-1"))
    refused("latin1.csv", r"latin1.csv is not UTF-8 text \(byte 0xe9\): save it as UTF-8")
    (tmp_path / "empty.csv").write_bytes(b"")
    refused("empty.csv", "empty.csv is empty: give a header row")
    assert store.count() == 0 and not (tmp_path / "o.csv").exists()
