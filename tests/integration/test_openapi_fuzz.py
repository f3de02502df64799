"""Schemathesis against the served app (real uvicorn, real SQLite log) with every task
mounted: tabular, images, the recommender and a plugin task on the generic frame route.

It reads the published ``/openapi.json``, generates requests from each operation's schema
(valid ones and, through the schema's edges, hostile ones: huge numbers, odd Unicode,
empty and oversized arrays) and checks every answer: never a 5xx, a documented status, the
documented content type and a body that matches the documented schema. The budget is
bounded (``EXAMPLES`` a route) so CI stays quick; ``LOOPWATCH_FUZZ_EXAMPLES`` raises it.
"""

from __future__ import annotations

import copy
import os

import numpy as np
import pytest
import schemathesis
import torch
from hypothesis import HealthCheck, given, settings
from mlflow.models import infer_signature
from schemathesis import GenerationMode, checks

from loopwatch.config import ServingParams
from loopwatch.serving.champion import LoadedModel, ModelInfo, StaticSource
from loopwatch.serving.frames import frame_mount
from loopwatch.serving.log_store import LogStore
from loopwatch.tasks.images.nets import NetConfig, build_net
from loopwatch.tasks.images.predictor import ImagePredictor
from loopwatch.tasks.images.routes import images_mount
from loopwatch.tasks.recsys.model import CollabConfig, DotProductBias
from loopwatch.tasks.recsys.predictor import CollabPredictor, IdIndex
from loopwatch.tasks.recsys.routes import recsys_mount
from loopwatch.tasks.tabular.routes import create_tabular_app
from tests.conftest import tiny_table
from tests.integration.conftest import live_server
from tests.plugins.toy_task import FEATURES, ToyPredictor, points
from tests.support import champion_of, records_of, tiny_predictor

EXAMPLES = int(os.environ.get("LOOPWATCH_FUZZ_EXAMPLES", "60"))
CHECKS = [checks.not_a_server_error, checks.status_code_conformance,
          checks.content_type_conformance, checks.response_schema_conformance]
PARAMS = ServingParams(max_batch_rows=20, max_body_bytes=200_000)


def every_task_mounted(store: LogStore):
    spec, frame = tiny_table(200)
    torch.manual_seed(0)
    image_config = NetConfig("small_cnn", 3, 1, 16)
    images = ImagePredictor(image_config, build_net(image_config), ("a", "b", "c"), raw_size=16)
    users, items = IdIndex.of([1, 2, 3]), IdIndex.of(range(101, 121))
    collab_config = CollabConfig(n_users=len(users), n_items=len(items), kind="dot",
                                 n_factors=4, layers=[8])
    collab = CollabPredictor(collab_config, users, items, DotProductBias(collab_config).eval(),
                             titles={101: "Toy Story"})
    toy = ToyPredictor(torch.nn.Linear(len(FEATURES), 3))
    sample = points(20, seed=0)[list(FEATURES)]
    toy_model = LoadedModel(ModelInfo("toy", "1"), toy,
                            infer_signature(sample, toy.predict_frame(sample)))
    also = (images_mount(StaticSource(LoadedModel(ModelInfo("shapes", "1"), images)), PARAMS),
            recsys_mount(StaticSource(LoadedModel(ModelInfo("collab", "1"), collab)), seed=0),
            frame_mount("toy", StaticSource(toy_model), PARAMS, sensitive=("group",), seed=0))
    return create_tabular_app(StaticSource(champion_of(tiny_predictor(spec, frame))), store,
                              PARAMS, seed=0, also=also)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    store = LogStore(f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'predictions.db'}")
    with live_server(every_task_mounted(store)) as url:
        yield url, schemathesis.openapi.from_url(f"{url}/openapi.json"), store
    store.close()


def test_every_route_publishes_its_request_and_response_schemas(served):
    _, schema, _ = served
    paths = schema.raw_schema["paths"]
    record = (paths["/predict"]["post"]["requestBody"]["content"]["application/json"]
              ["schema"]["properties"]["records"]["items"])
    spec, _ = tiny_table(10)
    assert set(record["required"]) == set(spec.inputs)  # from the champion's signature
    assert "group" in record["properties"] and record["additionalProperties"] is False
    toy = (paths["/predict/toy"]["post"]["requestBody"]["content"]["application/json"]
           ["schema"]["properties"]["records"]["items"])
    assert toy["required"] == list(FEATURES) and toy["properties"]["x"]["type"] == "number"
    assert set(paths["/predict/image"]["post"]["requestBody"]["content"]) == {
        "image/png", "image/jpeg", "multipart/form-data", "application/json"}
    for path, method in [("/predict", "post"), ("/predict/image", "post"),
                         ("/recommend/{user_id}", "get"), ("/feedback", "post"),
                         ("/predict/toy", "post")]:
        ok = paths[path][method]["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok["type"] == "object" and ok["required"], (path, ok)
        assert "422" in paths[path][method]["responses"]


WITH_INPUTS = [("/predict", "POST"), ("/predict/toy", "POST"), ("/predict/image", "POST"),
               ("/recommend/{user_id}", "GET"), ("/feedback", "POST")]
ROUTES = [(*route, mode) for route in WITH_INPUTS
          for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)]
ROUTES += [("/health", "GET", GenerationMode.POSITIVE),  # no inputs: nothing to break
           ("/admin/reload", "POST", GenerationMode.POSITIVE)]


@pytest.mark.parametrize("path, method, mode", ROUTES)
def test_no_generated_request_gets_a_server_error_or_an_undocumented_answer(served, path,
                                                                            method, mode):
    """Positive cases follow the schema; negative ones break it on purpose (wrong types,
    missing fields, values past the limits): both must get a documented 2xx/4xx."""
    url, schema, _ = served
    operation = schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def fuzz(case):
        case.call_and_validate(base_url=url, checks=CHECKS)

    fuzz()


def test_an_answer_that_breaks_the_published_schema_is_caught(served):
    """The checks bite: the same service against a document that promises a field the
    answer lacks fails validation."""
    url, schema, _ = served
    raw = copy.deepcopy(schema.raw_schema)
    health = raw["paths"]["/health"]["get"]["responses"]["200"]["content"]
    health["application/json"]["schema"]["required"].append("uptime")
    lying = schemathesis.openapi.from_dict(raw)
    case = lying["/health"]["GET"].Case()
    with pytest.raises(BaseExceptionGroup) as failed:
        case.call_and_validate(base_url=url, checks=CHECKS)
    assert [e.validation_message for e in failed.value.exceptions] == [
        '"uptime" is a required property']


def one_request(route: str) -> dict:
    """requests.request arguments for one valid request to a prediction route."""
    import base64

    from loopwatch.tasks.images.decode import encode_png

    spec, frame = tiny_table(10)
    if route == "/predict":
        return {"method": "POST", "json": {"records": records_of(frame.head(2), spec.inputs)}}
    if route == "/predict/toy":
        return {"method": "POST", "json": {"records": [{"x": 0.5, "y": -1.0, "group": "a"}]}}
    if route == "/predict/image":
        pixels = np.random.default_rng(0).integers(0, 255, (16, 16), dtype=np.uint8)
        return {"method": "POST",
                "json": {"images": [base64.b64encode(encode_png(pixels)).decode()]}}
    return {"method": "GET", "params": {"k": 3}}


@pytest.mark.parametrize("route", ["/predict", "/predict/toy", "/predict/image",
                                   "/recommend/2"])
def test_a_retried_request_gets_the_same_answer_and_logs_nothing_new(served, route):
    import requests

    url, _, store = served
    before = store.count()
    key = {"x-request-id": f"retry-{route}"}
    first = requests.request(url=url + route, headers=key, timeout=10, **one_request(route))
    logged = store.count()
    again = requests.request(url=url + route, headers=key, timeout=10, **one_request(route))
    assert first.status_code == again.status_code == 200, first.text
    assert logged > before and store.count() == logged  # the retry logged nothing
    assert again.json().pop("replayed") is True
    assert again.json() | {"replayed": None} == first.json() | {"replayed": None}


def test_what_the_fuzzing_logged_is_whole_and_usable_by_monitoring(served):
    """Every accepted request left rows a monitoring window can use: a finite score, a
    propensity in (0, 1], a model version; and the service still answers."""
    import requests

    url, _, store = served
    assert requests.get(f"{url}/health", timeout=10).json()["status"] == "ok"
    rows = store.read()
    assert len(rows) > 0, "the fuzzing never got a prediction accepted"
    assert np.isfinite(rows["score"].astype(float)).all()
    assert ((rows["propensity"] > 0) & (rows["propensity"] <= 1)).all()
    assert rows["model_version"].notna().all()
