"""Who may call the service: token, Host and content type, checked before any route."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from loopwatch.config import ServingParams
from loopwatch.serving.access import LOOPBACK, Access, check_bind, secret_free, token_from
from loopwatch.serving.app import create_app
from loopwatch.serving.champion import StaticSource
from loopwatch.serving.log_store import LogStore
from loopwatch.tasks.tabular.routes import tabular_mount
from tests.conftest import tiny_table
from tests.support import champion_of, records_of, tiny_predictor

SPEC, FRAME = tiny_table(200)
TOKEN = "s3cret-token"
LABEL = [{"prediction_id": "nope", "label": "yes", "origin": "organic"}]


@pytest.fixture
def service(tmp_path):
    store = LogStore(f"sqlite:///{tmp_path / 'predictions.db'}")
    mount = tabular_mount(StaticSource(champion_of(tiny_predictor(SPEC, FRAME))),
                          ServingParams(), seed=0)
    access = Access(token=TOKEN, hosts=(*LOOPBACK, "testserver"))
    with TestClient(create_app([mount], store, ServingParams(), access)) as client:
        yield client, store
    store.close()


def test_labels_and_reloads_need_the_token_predictions_do_not(service):
    client, store = service
    assert client.post("/feedback", json=LABEL).status_code == 401
    assert client.post("/admin/reload").status_code == 401
    wrong = client.post("/feedback", json=LABEL, headers={"authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    ok = client.post("/feedback", json=LABEL, headers={"authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 404  # through: an unknown prediction id, said as such
    records = records_of(FRAME.head(1), [*SPEC.inputs, "group"])
    assert client.post("/predict", json={"records": records}).status_code == 200
    assert store.count() == 1


def test_a_cross_site_form_or_text_post_cannot_store_a_label(service):
    client, _ = service
    auth = {"authorization": f"Bearer {TOKEN}"}
    for kind in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        resp = client.post("/feedback", content=b"[]", headers={**auth, "content-type": kind})
        assert resp.status_code == 415 and "application/json" in resp.json()["detail"]


def test_a_foreign_host_header_is_refused(service):
    client, store = service
    resp = client.get("/health", headers={"host": "evil.example:8000"})
    assert resp.status_code == 400 and "serving.allowed_hosts" in resp.json()["detail"]
    assert client.get("/health", headers={"host": "127.0.0.1:8000"}).status_code == 200


def test_binding_beyond_this_machine_needs_a_token_or_insecure():
    check_bind("127.0.0.1", None, insecure=False)
    with pytest.raises(ValueError, match="LOOPWATCH_API_TOKEN"):
        check_bind("0.0.0.0", None, insecure=False)
    check_bind("0.0.0.0", TOKEN, insecure=False)
    check_bind("0.0.0.0", None, insecure=True)


def test_token_from_the_environment_or_a_file_and_passwords_masked(tmp_path):
    assert token_from({"LOOPWATCH_API_TOKEN": " abc \n"}) == "abc"
    (tmp_path / "token").write_text("from-file\n")
    assert token_from({"LOOPWATCH_API_TOKEN_FILE": str(tmp_path / "token")}) == "from-file"
    assert token_from({}) is None
    with pytest.raises(ValueError, match="LOOPWATCH_API_TOKEN_FILE"):
        token_from({"LOOPWATCH_API_TOKEN_FILE": str(tmp_path / "missing")})
    masked = secret_free("postgresql+psycopg://loop:hunter2@db:5432/log")
    assert "hunter2" not in masked and masked.startswith("postgresql+psycopg://loop:***@db")
    assert secret_free("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
