"""MovieLens-100k for real (from the recbole wheel, offline): the data, the model's RMSE on
the seeded 20% split against its baselines, and the feedback loop's published direction."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from loopwatch.simulation.recommender import experiment
from loopwatch.tasks.recsys import data, pipeline
from loopwatch.tasks.recsys.params import LoopParams, RecsysParams
from tests.conftest import REPO, make_settings

pytestmark = pytest.mark.slow  # real data, real training

GENERATIONS = 6


@pytest.fixture(scope="module")
def ml(shared_cache, tmp_path_factory):
    raw = tmp_path_factory.mktemp("ml-100k")
    source = data.fetch(raw, shared_cache, try_url=False, log=lambda m: None)
    assert source.startswith("recbole==1.2.1")  # the offline fallback, checksummed
    return data.load(raw)


def test_the_real_files(ml):
    assert len(ml.ratings) == 100_000 and len(ml.users) == 943 and len(ml.items) == 1_682
    assert ml.users["gender"].value_counts().to_dict() == {"M": 670, "F": 273}
    assert set(ml.ratings["rating"]) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert not ml.ratings.duplicated(["user_id", "item_id"]).any()
    assert ml.items.loc[ml.items["item_id"] == 1, "title"].item() == "Toy Story"


def test_dot_product_model_reaches_fastai_rmse_and_beats_baselines(ml):
    from loopwatch.tasks.recsys.fit import quiet
    from loopwatch.tasks.recsys.task import RecsysSplits, RecsysTask
    from loopwatch.training.run import fit_task

    p = RecsysParams(enable_progress_bar=False)
    parts = pipeline.splits(ml, p)
    assert len(parts["test"]) == 20_000  # seeded random 20% of the rating rows
    with quiet():
        fit = fit_task(RecsysTask(), RecsysSplits(ml, parts), p)
    m = pipeline.evaluate(fit.predictor, parts["train"], parts["test"], ml.users, p)
    assert m["test_rmse"] <= 0.91  # fastai's collab lesson: about 0.90
    assert m["test_rmse"] < m["baseline_item_mean_rmse"] - 0.08
    assert m["baseline_item_mean_rmse"] < m["baseline_global_mean_rmse"]
    assert len(fit.history) == p.max_epochs and fit.history[-1]["valid_rmse"] < 0.92


@pytest.fixture(scope="module")
def loop(ml, tmp_path_factory):
    root = tmp_path_factory.mktemp("recsys-loop")
    settings = make_settings(root)
    p = RecsysParams(enable_progress_bar=False, loop=LoopParams(
        generations=GENERATIONS, max_epochs=5, train_random_arm=False, seed=0))
    run = experiment.simulate(ml, p, settings.state_dir / "simulations")
    return settings, run


def test_retraining_homogenises_users_and_a_random_recommender_does_not(loop):
    _, run = loop
    model, random, ideal = (run.arms[a].metrics for a in ("model", "random", "ideal"))
    # Chaney et al.: consumed sets grow more alike than under the ideal recommender, more
    # so every generation; a random recommender's users barely overlap at all.
    ratio = model["jaccard"] / ideal["jaccard"]
    assert ratio.iloc[-1] > ratio.iloc[0] + 0.1
    assert (model["jaccard"] > ideal["jaccard"]).iloc[1:].all()
    assert random["jaccard"].iloc[-1] < 0.1 * model["jaccard"].iloc[-1]
    assert random["slate_jaccard"].max() - random["slate_jaccard"].min() < 0.001


def test_retraining_concentrates_exposure_on_popular_items(loop):
    _, run = loop
    model, random, ideal = (run.arms[a].metrics for a in ("model", "random", "ideal"))
    excess_gini = model["exposure_gini"] - ideal["exposure_gini"]
    assert excess_gini.iloc[-1] > excess_gini.iloc[0] + 0.01
    assert model["exposure_coverage"].iloc[-1] < model["exposure_coverage"].iloc[0] - 0.05
    assert (random["exposure_coverage"] > 0.99).all() and (random["exposure_gini"] < 0.3).all()
    assert (model["rec_popularity"] > ideal["rec_popularity"]).all()
    assert (model["rec_popularity"] > 3 * random["rec_popularity"]).all()


def test_retraining_raises_the_popularity_of_what_the_model_sees_and_learns_from(loop):
    _, run = loop
    model, random, ideal = (run.arms[a].metrics for a in ("model", "random", "ideal"))
    # Mansoury et al.: measured on the data each generation trained on, recommended items
    # get more popular and the data itself concentrates, every generation; a random
    # recommender's items stay average (1) and its data flattens.
    assert model["rec_popularity_live"].iloc[-1] > 1.5 * model["rec_popularity_live"].iloc[0]
    assert model["train_popularity"].is_monotonic_increasing
    assert random["rec_popularity_live"].between(0.85, 1.15).all()
    assert random["train_popularity"].is_monotonic_decreasing
    # The ideal's data concentrates too (true tastes overlap); the model's does so faster,
    # every generation: the loop's own amplification.
    excess = model["train_popularity"] / ideal["train_popularity"]
    assert excess.iloc[0] == pytest.approx(1.0)  # same organic start
    assert (excess.diff().iloc[1:] > 0).all() and excess.iloc[-1] > 1.08
    assert any("train_popularity" in r for r in run.alert.reasons)


def test_the_minority_group_is_pushed_further_towards_popular_items(loop):
    _, run = loop
    model, random, ideal = (run.arms[a].metrics for a in ("model", "random", "ideal"))
    # Mansoury et al.: women's recommendations drift further from their own taste.
    gap = model["popularity_lift.F"] - model["popularity_lift.M"]
    assert gap.iloc[-1] > gap.iloc[0] + 0.03 and gap.iloc[-1] > 0
    excess_f = model["popularity_lift.F"] / ideal["popularity_lift.F"]
    excess_m = model["popularity_lift.M"] / ideal["popularity_lift.M"]
    assert (excess_f > excess_m).all()
    assert model["popularity_lift_gap"].iloc[-1] > random["popularity_lift_gap"].iloc[-1]
    # ...and the model serves them worse throughout (uniform-pair RMSE, precision@k).
    assert (model["rmse.F"] > model["rmse.M"]).all()
    assert (model["precision_at_10.F"] < model["precision_at_10.M"]).all()


def test_alert_fires_for_the_model_not_for_the_random_arm(loop):
    _, run = loop
    assert run.alert.suspected and not run.control.suspected
    assert any("jaccard" in r for r in run.alert.reasons)


def test_recorded_in_mlflow_and_the_evidently_workspace(loop):
    from mlflow.tracking import MlflowClient

    from loopwatch.monitoring.window import workspace_path
    from loopwatch.monitoring.workspace import open_workspace, project_for

    settings, run = loop
    shutil.copytree(REPO / "dashboards", settings.root / "dashboards")
    out = experiment.record(run, settings)
    client = MlflowClient(settings.tracking_uri)
    history = client.get_metric_history(out["run_id"], "model.jaccard")
    assert [m.step for m in history] == list(range(GENERATIONS))  # step = generation
    assert np.allclose([m.value for m in history], run.arms["model"].metrics["jaccard"])
    mlrun = client.get_run(out["run_id"])
    assert mlrun.data.tags["loopwatch.alert"] == "feedback loop suspected"
    artifacts = {a.path for a in client.list_artifacts(out["run_id"], "figures")}
    assert "figures/recommender_loop.png" in artifacts
    alert = json.loads(Path(client.download_artifacts(out["run_id"],
                                                      "alerts/recommender.json")).read_text())
    assert alert["model_vs_random"]["suspected"] and alert["model_vs_random"]["reasons"]
    assert out["snapshots"] == 2 * GENERATIONS  # Evidently recsys report + headline each
    ws = open_workspace(workspace_path(settings))
    project = project_for(ws, "movielens-collab-loop")
    assert len(ws.list_runs(project.id)) == 2 * GENERATIONS
    titles = {p.title for p in project.dashboard.model().panels}
    assert any("Homogenisation" in t for t in titles)  # dashboards/recommender.py applied
