"""The Prefect training flow, run for real under Prefect's test harness."""

import pytest
from mlflow.tracking import MlflowClient

pytestmark = pytest.mark.slow  # ~18 s to start the harness, real Adult data


def test_flow_fetches_versions_trains_and_registers(prefect_harness, shared_cache, tmp_path,
                                                    monkeypatch):
    from flows.train import train_pipeline

    (tmp_path / "params.yaml").write_text(
        "tasks:\n  tabular:\n    max_epochs: 1\n    layers: [16]\n    enable_progress_bar: false\n"
    )
    monkeypatch.setenv("LOOPWATCH_STATE_DIR", str(tmp_path / ".state"))
    monkeypatch.setenv("LOOPWATCH_CACHE_DIR", str(shared_cache))
    result = train_pipeline(root=str(tmp_path), try_url=False)

    assert (tmp_path / "data.dvc").exists()
    assert result["data_version"].endswith(".dir")
    assert result["rows"] == {"train": 26049, "valid": 6512, "test": 16281}
    assert result["promoted"] is True and result["model"] == "adult-income v1"
    client = MlflowClient(result["tracking_uri"])
    run = client.get_run(result["run_id"])
    assert run.data.tags["loopwatch.data_md5"] == result["data_version"]
    assert client.get_model_version_by_alias("adult-income", "champion").run_id == run.info.run_id
    # DVC pushed the data to the embedded remote under the state folder
    assert any((tmp_path / ".state" / "dvc-remote").rglob("*"))
    # The Prefect UI alone tells what happened: the results as artifacts, with the run's link.
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    with get_client(sync_client=True) as prefect:  # the session's harness: keep the newest
        newest = prefect.read_artifacts(artifact_filter=ArtifactFilter(
            key=ArtifactFilterKey(any_=["training", "training-mlflow-run"])),
            sort=ArtifactSort.CREATED_DESC)
    found = {}
    for artifact in newest:
        found.setdefault(artifact.key, artifact)
    assert "test accuracy" in found["training"].data and "promoted to champion" in \
        found["training"].data
    assert f"/runs/{result['run_id']}" in found["training-mlflow-run"].data
