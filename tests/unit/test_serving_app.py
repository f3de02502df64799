"""The app factory with injected models and a real SQLite log (in-process client)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from loopwatch.config import ServingParams
from loopwatch.serving.champion import StaticSource
from loopwatch.serving.log_store import LogStore
from loopwatch.tasks.tabular.routes import create_tabular_app
from tests.conftest import tiny_table
from tests.support import FakePredictor, champion_of, records_of, tiny_predictor

SPEC, FRAME = tiny_table(200)
PARAMS = ServingParams(max_batch_rows=50, max_body_bytes=4096)


@pytest.fixture(scope="module")
def predictor():
    return tiny_predictor(SPEC, FRAME)


@pytest.fixture
def store(tmp_path):
    s = LogStore(f"sqlite:///{tmp_path / 'predictions.db'}")
    yield s
    s.close()


@pytest.fixture
def client(predictor, store):
    app = create_tabular_app(StaticSource(champion_of(predictor)), store, PARAMS, seed=0)
    with TestClient(app) as c:
        yield c


def records(n=3, sensitive=True):
    return records_of(FRAME.head(n), [*SPEC.inputs, *(["group"] if sensitive else [])])


def test_health_and_model_info(client):
    assert client.get("/health").json()["status"] == "ok"
    info = client.get("/model").json()
    assert (info["name"], info["version"], info["alias"]) == ("tiny", "1", "champion")
    assert info["run_id"] == "run-1" and info["data_hash"] == "md5-1"
    assert info["inputs"] == ["color", "x1", "x2"] and info["sensitive"] == ["group"]
    assert info["actions"] == ["deny", "approve"] and info["epsilon"] == 0.0


def test_predict_answers_per_record_and_logs_each_before_answering(client, store):
    resp = client.post("/predict", json={"records": records(3), "metadata": {"batch": "t"}},
                       headers={"x-request-id": "req-42"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["model"] == {"name": "tiny", "version": "1"} and body["request_id"] == "req-42"
    preds = body["predictions"]
    assert len(preds) == 3 and len({p["prediction_id"] for p in preds}) == 3
    for p in preds:
        assert p["label"] in ("no", "yes") and p["model_version"] == "1"
        assert abs(sum(p["probabilities"].values()) - 1) < 1e-6
        assert p["decision"] == ("approve" if p["probabilities"]["yes"] >= 0.5 else "deny")
        assert p["propensity"] == 1.0 and p["explored"] is False
    logged = store.read().set_index("prediction_id")
    assert set(logged.index) == {p["prediction_id"] for p in preds}
    first = logged.loc[preds[0]["prediction_id"]]
    assert first["group"] == FRAME["group"].iloc[0] and first["request_id"] == "req-42"
    assert first["source"] == "http" and first["decision"] == preds[0]["decision"]
    assert first["request_meta"]["metadata"] == {"batch": "t"}
    assert first["request_meta"]["n_records"] == 3 and first["request_meta"]["client"]
    others = logged.loc[[p["prediction_id"] for p in preds[1:]], "request_meta"]
    assert others.isna().all()  # stored once per request, not once per record


BAD = [
    ({"records": [{"color": "red", "x1": 1.0}]}, 422, "x2"),
    ({"records": [{"color": "red", "x1": 1.0, "x2": 2.0, "zip": "1"}]}, 422, "zip"),
    ({"records": [{"color": "red", "x1": "1", "x2": 2.0}]}, 422, "x1"),
    ({"records": []}, 422, "records"),
    ({"records": [{"color": "red", "x1": 1.0, "x2": 2.0}] * 51}, 413, "records"),
    ({"records": [{"color": "red", "x1": 1.0, "x2": 2.0}], "model": "other"}, 404, "model"),
]


@pytest.mark.parametrize("payload, status, field", BAD)
def test_bad_requests_are_4xx_log_nothing_and_the_service_keeps_serving(client, store, payload,
                                                                        status, field):
    resp = client.post("/predict", json=payload)
    assert resp.status_code == status and resp.json()["field"] == field
    assert field in resp.json()["detail"] or status == 413
    assert store.count() == 0
    assert client.post("/predict", json={"records": records(1)}).status_code == 200


def test_malformed_nan_and_oversize_bodies(client, store):
    ok = '{"color": "red", "x1": 1.0, "x2": 2.0}'
    assert client.post("/predict", content=b'{"records": [').status_code == 400
    nan = client.post("/predict", content=ok.replace("1.0", "NaN").join(['{"records": [', ']}']))
    assert nan.status_code == 422 and nan.json()["field"] == "x1"
    huge = client.post("/predict", content=b" " * 5000)
    assert huge.status_code == 413 and "max_body_bytes" in huge.json()["detail"]

    def chunked():  # no content-length: the limit holds while streaming
        for _ in range(10):
            yield b" " * 1000

    assert client.post("/predict", content=chunked()).status_code == 413
    assert store.count() == 0


def test_exploration_logs_propensities(predictor, store):
    app = create_tabular_app(StaticSource(champion_of(predictor)), store, PARAMS, epsilon=1.0,
                             seed=1)
    with TestClient(app) as client:
        preds = client.post("/predict", json={"records": records(40)}).json()["predictions"]
    assert all(p["explored"] and p["propensity"] == 0.5 for p in preds)
    assert {p["decision"] for p in preds} == {"approve", "deny"}
    frame = store.read()
    assert frame["explored"].all() and (frame["propensity"] == 0.5).all()


def test_no_model_is_503_and_a_swapped_model_is_used_by_the_next_request(store):
    source = StaticSource(None)
    app = create_tabular_app(source, store, PARAMS)
    with TestClient(app) as client:
        assert client.get("/health").status_code == 503
        assert client.post("/predict", json={"records": records(1)}).status_code == 503
        source.champion = champion_of(FakePredictor(SPEC, "x1"), version="7")
        resp = client.post("/predict", json={"records": [{"color": "red", "x1": 0.9, "x2": 1.0,
                                                          "group": "a"}]})
        assert resp.json()["predictions"][0]["model_version"] == "7"
        assert resp.json()["predictions"][0]["decision"] == "approve"
        assert client.post("/admin/reload").json() == {"changed": False, "version": "7"}


def test_feedback_endpoint(client, store):
    preds = client.post("/predict", json={"records": records(2)}).json()["predictions"]
    a, b = (p["prediction_id"] for p in preds)
    items = [{"prediction_id": a, "label": "yes", "origin": "organic"},
             {"prediction_id": b, "label": "no", "origin": "model-selected",
              "arrived_at": "2024-01-01T00:00:00+02:00"}]
    first = client.post("/feedback", json={"items": items})
    assert first.status_code == 200 and first.json()["accepted"] == [a, b]
    assert client.post("/feedback", json=items).json()["duplicates"] == [a, b]  # idempotent
    clash = client.post("/feedback", json=[{**items[0], "label": "no"}])
    assert clash.status_code == 409 and "already has label" in clash.json()["conflicts"][0][
        "message"]
    unknown = client.post("/feedback", json=[{**items[0], "prediction_id": "zz"}])
    assert unknown.status_code == 404 and unknown.json()["unknown_ids"] == ["zz"]
    bad = client.post("/feedback", json=[{"prediction_id": a, "label": "yes", "origin": "x"}])
    assert bad.status_code == 422 and bad.json()["field"] == "items.0.origin"
    assert client.post("/feedback", content=b"{").status_code == 400
    frame = store.read().set_index("prediction_id")
    assert frame.loc[b, "label"] == "no"
    assert str(frame.loc[b, "label_arrived_at"]) == "2023-12-31 22:00:00+00:00"


UNREPRESENTABLE = [  # bodies a parser accepts but nothing downstream can store or write
    (b'{"records": [{"color": "\\ud800", "x1": 1.0, "x2": 2.0}]}', "body.records[0].color"),
    (b'{"records": [{"\\ud800": "red", "x1": 1.0, "x2": 2.0}]}', "body.records[0] (a key)"),
    (b'{"records": [{"color": "red", "x1": 1' + b"0" * 400 + b', "x2": 2.0}]}',
     "body.records[0].x1"),
    (b'{"records": [{"color": "red", "x1": 1.0, "x2": 2.0}], "metadata": '
     + b'{"a": ' * 40 + b"1" + b"}" * 41, "body.metadata"),
    (b'{"records": ' + b"[" * 5000 + b"]" * 5000 + b"}", None),
]


@pytest.mark.parametrize("body, field", UNREPRESENTABLE)
def test_unrepresentable_input_is_a_400_naming_where_and_logs_nothing(predictor, store, body,
                                                                      field):
    roomy = ServingParams(max_batch_rows=50, max_body_bytes=100_000)  # past the size limit
    app = create_tabular_app(StaticSource(champion_of(predictor)), store, roomy, seed=0)
    with TestClient(app) as client:
        resp = client.post("/predict", content=body)
        assert resp.status_code == 400, resp.text
        assert field is None or resp.json()["field"].startswith(field)
        assert store.count() == 0
        assert client.post("/predict", json={"records": records(1)}).status_code == 200


def test_feedback_errors_name_their_own_field_and_datetimes_at_the_range_edge(client):
    empty = client.post("/feedback", content=b"")
    assert empty.status_code == 400 and "'items'" in empty.json()["detail"]
    edge = client.post("/feedback", json=[{"prediction_id": "a", "label": "yes",
                                           "origin": "organic",
                                           "arrived_at": "9999-12-31T23:59:59-12:00"}])
    assert edge.status_code == 422 and edge.json()["field"] == "items.0.arrived_at"


def test_a_value_the_model_cannot_score_is_refused_not_logged_with_no_score(client, store):
    extreme = {"color": "red", "x1": 1e308, "x2": 2.0, "group": "a"}
    resp = client.post("/predict", json={"records": [records(1)[0], extreme]})
    assert resp.status_code == 422, resp.text
    assert (resp.json()["record"], resp.json()["field"]) == (1, "x1")
    assert store.count() == 0


def test_a_retried_request_gets_the_same_answer_and_logs_nothing_new(client, store):
    body = {"records": records(2)}
    first = client.post("/predict", json=body, headers={"x-request-id": "retry-1"})
    again = client.post("/predict", json=body, headers={"x-request-id": "retry-1"})
    assert first.status_code == again.status_code == 200
    assert again.json()["predictions"] == first.json()["predictions"] and again.json()["replayed"]
    assert store.count() == 2  # logged once
    other = client.post("/predict", json=body, headers={"x-request-id": "retry-2"})
    assert other.json()["predictions"][0]["prediction_id"] != \
        first.json()["predictions"][0]["prediction_id"] and store.count() == 4


def test_inputs_outside_the_training_range_are_flagged_in_the_answer_and_counted(client,
                                                                                  store):
    top = float(FRAME["x1"].max())
    body = {"records": records(3)}
    body["records"][1]["x1"] = top + 1.0  # finite and scored, but beyond what training saw
    body["records"][2]["x2"] = float(FRAME["x2"].min()) - 1.0
    first = client.post("/predict", json=body, headers={"x-request-id": "range-1"})
    flags = [p.get("outside_training_range") for p in first.json()["predictions"]]
    assert flags == [None, ["x1"], ["x2"]]
    logged = store.read().set_index("prediction_id")
    meta = logged.loc[first.json()["predictions"][0]["prediction_id"], "request_meta"]
    assert meta["outside_training_range"] == 2
    again = client.post("/predict", json=body, headers={"x-request-id": "range-1"})
    assert again.json()["predictions"] == first.json()["predictions"]  # the replay flags too
    schema = client.get("/openapi.json").json()["paths"]["/predict"]["post"]["responses"]
    item = schema["200"]["content"]["application/json"]["schema"]["properties"]["predictions"]
    assert "outside_training_range" in item["items"]["properties"]
