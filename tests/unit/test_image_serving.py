"""POST /predict/image: PNG/JPEG in (raw, multipart, base64 JSON), 4xx for anything else,
every accepted image in the prediction log with its statistics and embedding."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from loopwatch.config import ServingParams
from loopwatch.serving.champion import ModelInfo, StaticSource
from loopwatch.serving.log_store import LogStore
from loopwatch.tasks.images.decode import encode_png
from loopwatch.tasks.images.nets import NetConfig, build_net
from loopwatch.tasks.images.predictor import ImagePredictor
from loopwatch.tasks.images.routes import ImageChampion, create_image_app, images_mount
from loopwatch.tasks.tabular.routes import create_tabular_app

PARAMS = ServingParams(max_batch_rows=4, max_body_bytes=60_000)


@pytest.fixture(scope="module")
def champion():
    torch.manual_seed(0)
    config = NetConfig("small_cnn", 3, 1, 16)
    predictor = ImagePredictor(config, build_net(config), ("a", "b", "c"), raw_size=16)
    return ImageChampion(ModelInfo("shapes", "7", run_id="run-7"), predictor)


@pytest.fixture
def store(tmp_path):
    s = LogStore(f"sqlite:///{tmp_path / 'predictions.db'}")
    yield s
    s.close()


@pytest.fixture
def client(champion, store):
    with TestClient(create_image_app(StaticSource(champion), store, PARAMS)) as c:
        yield c


def png(seed: int = 0, size: int = 20, rgb: bool = False) -> bytes:
    shape = (size, size, 3) if rgb else (size, size)
    return encode_png(np.random.default_rng(seed).integers(0, 255, shape, dtype=np.uint8))


def jpeg(seed: int = 0) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    pixels = np.random.default_rng(seed).integers(0, 255, (24, 30, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(buf, format="JPEG")
    return buf.getvalue()


def test_raw_png_is_predicted_and_logged_with_stats_and_embedding(client, store, champion):
    r = client.post("/predict/image", content=png(), headers={"content-type": "image/png"})
    assert r.status_code == 200, r.text
    body = r.json()
    (item,) = body["predictions"]
    assert body["model"] == {"name": "shapes", "version": "7"}
    assert item["label"] in ("a", "b", "c") and item["probability"] == max(
        item["probabilities"].values())
    logged = store.read()
    assert len(logged) == 1 and logged.loc[0, "prediction_id"] == item["prediction_id"]
    row = logged.iloc[0]
    assert row["format"] == "PNG" and (row["width"], row["height"]) == (20, 20)
    assert len(row["embedding"]) == 128 and 0 <= row["brightness"] <= 1
    assert row["score"] == pytest.approx(item["probability"])
    assert row["decision"] == item["label"] and row["propensity"] == 1.0


def test_multipart_and_base64_json_carry_several_images(client, store):
    files = [("file", ("a.png", png(1, rgb=True), "image/png")),
             ("file", ("b.jpg", jpeg(2), "image/jpeg"))]
    r = client.post("/predict/image", files=files)
    assert r.status_code == 200, r.text
    assert len(r.json()["predictions"]) == 2
    blobs = [base64.b64encode(png(i)).decode() for i in range(3)]
    r = client.post("/predict/image", json={"images": blobs})
    assert r.status_code == 200 and len(r.json()["predictions"]) == 3
    assert sorted(store.read()["format"]) == ["JPEG", "PNG", "PNG", "PNG", "PNG"]


@pytest.mark.parametrize("content, ctype, status, words", [
    (png(size=64)[:3000], "image/png", 422, "corrupt"),  # truncated pixel data
    (b"just some text, not pixels", "image/png", 415, "not an image"),
    (b"GIF89a" + b"\x00" * 30, "image/png", 415, "not an image"),
    (b"x" * 70_000, "image/png", 413, "exceeds the limit"),
    (b"{}", "application/json", 422, "images"),
    (b"hello", "text/plain", 415, "content-type"),
])
def test_bad_uploads_get_a_4xx_and_log_nothing(client, store, content, ctype, status, words):
    r = client.post("/predict/image", content=content, headers={"content-type": ctype})
    assert r.status_code == status, r.text
    assert words in r.json()["detail"]
    assert store.count() == 0


def test_too_many_pixels_or_images_are_413(client, store):
    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (8000, 6000)).save(buf, format="PNG")  # 48 MP of zeros: tiny file
    r = client.post("/predict/image", content=buf.getvalue(),
                    headers={"content-type": "image/png"})
    assert r.status_code == 413 and "pixels" in r.json()["detail"]
    r = client.post("/predict/image", json={"images": [base64.b64encode(png()).decode()] * 5})
    assert r.status_code == 413 and "max_batch_rows" in r.json()["detail"]
    gif = io.BytesIO()
    Image.new("L", (4, 4)).save(gif, format="GIF")
    r = client.post("/predict/image", files=[("file", ("x.gif", gif.getvalue(), "image/gif"))])
    assert r.status_code == 415 and "GIF" in r.json()["detail"]
    assert store.count() == 0


def test_model_info_and_the_main_app_include(champion, store):
    images = images_mount(StaticSource(champion), PARAMS)
    with TestClient(create_tabular_app(StaticSource(None), store, PARAMS, also=(images,))) as c:
        info = c.get("/model/image").json()
        assert info["classes"] == ["a", "b", "c"] and info["arch"] == "small_cnn"
        r = c.post("/predict/image", content=png(), headers={"content-type": "image/png"})
        assert r.status_code == 200 and store.count() == 1
        health = c.get("/health")  # the tabular model is missing: health names it
        assert health.status_code == 503
        assert health.json()["models"] == {"tabular": None, "images": "7"}


def test_a_chunked_multipart_upload_past_the_limit_is_413_not_read_whole(client, store):
    boundary = "loopwatchboundary"
    part = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"big.png\"\r\nContent-Type: image/png\r\n\r\n").encode()

    def chunked():  # no content-length: only the stream tells the size
        yield part
        for _ in range(20):
            yield b"\x00" * 5_000
        yield f"\r\n--{boundary}--\r\n".encode()

    resp = client.post("/predict/image", content=chunked(),
                       headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    assert resp.status_code == 413 and "max_body_bytes" in resp.json()["detail"]
    assert store.count() == 0
