"""The real service (uvicorn on a free loopback port) over a real MLflow champion."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import mlflow
import pytest
from mlflow.tracking import MlflowClient

from loopwatch.serving.champion import ChampionHolder
from loopwatch.serving.log_store import LogStore
from loopwatch.tasks.tabular.champion import load_version
from loopwatch.tasks.tabular.params import TabularParams
from loopwatch.tasks.tabular.routes import create_tabular_app
from tests.integration.conftest import live_server
from tests.support import records_of


@pytest.fixture
def service(served_model, tmp_path):
    """(base URL, holder, store) for a fresh log; the holder polls the alias every 0.2 s."""
    settings, spec, test, _ = served_model
    holder = ChampionHolder(settings.tracking_uri, TabularParams.from_settings(settings).model_name,
                            poll_interval=0.2, loader=load_version)
    holder.refresh()
    store = LogStore(f"sqlite:///{tmp_path / 'predictions.db'}")
    with live_server(create_tabular_app(holder, store, settings.params.serving)) as url:
        yield url, holder, store
    store.close()


def body_of(served_model, n, start=0):
    _, spec, test, _ = served_model
    return {"records": records_of(test.iloc[start:start + n], [*spec.inputs, *spec.sensitive])}


def test_serves_the_registered_champion_with_its_lineage(service, served_model):
    url, _, store = service
    settings, _, _, out = served_model
    info = httpx.get(f"{url}/model").json()
    assert (info["name"], info["version"], info["alias"]) == ("adult-income", "1", "champion")
    assert info["run_id"] == out.run_id and info["data_hash"]
    resp = httpx.post(f"{url}/predict", json=body_of(served_model, 5))
    assert resp.status_code == 200, resp.text
    preds = resp.json()["predictions"]
    assert [p["model_version"] for p in preds] == ["1"] * 5
    assert store.ids() == {p["prediction_id"] for p in preds}
    assert httpx.get(f"{url}/health").json()["status"] == "ok"


def test_concurrent_clients_give_exactly_one_row_per_prediction(service, served_model):
    url, _, store = service
    n_clients, n_requests = 8, 25
    bodies = [body_of(served_model, 1 + i % 3, i) for i in range(n_requests)]

    def client_session(_):
        with httpx.Client(base_url=url, timeout=30) as client:
            return [client.post("/predict", json=b) for b in bodies]

    with ThreadPoolExecutor(n_clients) as pool:
        responses = [r for batch in pool.map(client_session, range(n_clients)) for r in batch]
    assert len(responses) == n_clients * n_requests
    assert all(r.status_code == 200 for r in responses)
    ids = [p["prediction_id"] for r in responses for p in r.json()["predictions"]]
    assert len(ids) == len(set(ids)) == store.count()
    assert store.ids() == set(ids)
    assert store.read()["request_id"].nunique() == n_clients * n_requests


def test_concurrent_conflicting_labels_store_exactly_one(service, served_model):
    """100 clients label the same prediction at once, half "yes" and half "no": one label
    is stored; the same label again is a no-op (200), the other one a conflict (409)."""
    url, _, store = service
    pid = httpx.post(f"{url}/predict", json=body_of(served_model, 1)).json()[
        "predictions"][0]["prediction_id"]

    def label(i):
        item = {"prediction_id": pid, "label": ("yes", "no")[i % 2], "origin": "organic"}
        return httpx.post(f"{url}/feedback", json={"items": [item]}, timeout=30)

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(label, range(100)))
    stored = store.read()["label"].dropna().tolist()
    assert store.count("feedback") == 1 and len(stored) == 1
    kept = stored[0]
    wins = [a for a in answers if a.json()["accepted"] == [pid]]
    assert len(wins) == 1
    for i, answer in enumerate(answers):
        same = ("yes", "no")[i % 2] == kept
        assert answer.status_code == (200 if same else 409), answer.text


def test_a_new_champion_is_picked_up_without_restart_or_dropped_requests(service, served_model):
    url, holder, store = service
    settings = served_model[0]
    name = TabularParams.from_settings(settings).model_name
    client = MlflowClient(settings.tracking_uri)
    # MLflow 3 resolves a models:/m-... source through the global tracking URI, whatever the
    # client's: point it at this store (an earlier test may have pointed it elsewhere).
    mlflow.set_tracking_uri(settings.tracking_uri)
    v1 = client.get_model_version_by_alias(name, "champion")
    results, stop = [], threading.Event()

    def hammer():
        with httpx.Client(base_url=url, timeout=30) as c:
            while not stop.is_set():
                results.append(c.post("/predict", json=body_of(served_model, 2)))

    threads = [threading.Thread(target=hammer) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        v2 = client.create_model_version(name, v1.source, run_id=v1.run_id)
        client.set_registered_model_alias(name, "champion", v2.version)
        deadline = time.monotonic() + 20  # the poller (0.2 s) must notice and swap
        while holder.current().info.version != str(v2.version):
            assert time.monotonic() < deadline, holder.last_error
            time.sleep(0.05)
        time.sleep(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join()
        holder.stop()  # from here on only the admin reload may notice the alias move back
        client.set_registered_model_alias(name, "champion", v1.version)
    assert results and all(r.status_code == 200 for r in results)
    versions = {p["model_version"] for r in results for p in r.json()["predictions"]}
    assert versions == {"1", str(v2.version)}
    assert store.count() == sum(len(r.json()["predictions"]) for r in results)
    # An admin reload moves back at once (the alias now points to v1 again).
    assert httpx.post(f"{url}/admin/reload").json() == {"changed": True, "version": "1"}


def test_a_held_write_lock_delays_only_the_writes_not_health(service, served_model):
    """Another process holding SQLite's write lock (a backup, `loopwatch feedback`) must not
    freeze the service: the log is written off the event loop."""
    import sqlite3

    url, _, store = service
    assert httpx.post(f"{url}/predict", json=body_of(served_model, 1)).status_code == 200
    path = store.url.removeprefix("sqlite:///")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # the write lock, held
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(httpx.post, f"{url}/predict", json=body_of(served_model, 1),
                              timeout=30)
        time.sleep(0.3)  # the prediction now waits on the lock
        started = time.monotonic()
        health = httpx.get(f"{url}/health", timeout=5)
        waited = time.monotonic() - started
        assert health.status_code == 200 and waited < 0.5, waited
        assert not pending.done()
        holder.execute("COMMIT")  # released: the waiting write lands, then answers
        assert pending.result().status_code == 200
    holder.close()
    assert store.count() == 2
