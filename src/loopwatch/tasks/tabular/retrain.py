"""A production retrain of the tabular model, on wall-clock time and the registry.

What a scheduled or manual retrain does when no simulated calendar drives it: version the
newest ``data/`` (with the decision-revealed rows under ``data/feedback/``), train a
challenger on the organic rows plus those rows (each with its provenance), register it as
``challenger`` and put it through the accuracy-and-fairness gate against the champion on
a seeded sample of the prepared test split. Its monitoring reference is the traffic of
the last ``window`` (what it was retrained for).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from loopwatch.config import Settings
from loopwatch.tasks.tabular.params import TabularParams, prepared_dir

GATE_ROWS = 4000  # the gate's holdout: a seeded sample of the test split


@dataclass
class Retrained:
    run_id: str
    challenger_version: str
    promoted: bool
    champion_after: str
    reasons: list[str]
    data_version: str
    rows: dict[str, int]


def retrain_recent(settings: Settings, reason: str, window: str = "1d",
                   end: datetime | None = None) -> Retrained:
    from loopwatch.data import versioning
    from loopwatch.feedback import read_feedback_rows, retraining_rows, rows_by_origin
    from loopwatch.monitoring.window import TAG_REFERENCE_WINDOW, parse_window
    from loopwatch.tasks.tabular.gate import gate_and_promote
    from loopwatch.tasks.tabular.pipeline import train_logged
    from loopwatch.tasks.tabular.spec import read_splits
    from loopwatch.training.registry import register_challenger
    from loopwatch.training.tracking import configure

    end = end or datetime.now(UTC)
    params = TabularParams.from_settings(settings, enable_progress_bar=False)
    spec, splits = read_splits(prepared_dir(settings, params))
    versioning.version_and_push(settings.root, settings.dvc_remote_dir)
    feedback = read_feedback_rows(settings.data_dir, params.dataset)
    order = np.random.default_rng(params.split_seed).permutation(len(feedback))
    n_valid = int(round(len(feedback) * params.valid_fraction))
    fb_valid, fb_train = feedback.iloc[order[:n_valid]], feedback.iloc[order[n_valid:]]
    train = retraining_rows(splits["train"], fb_train)
    valid = pd.concat([splits["valid"], fb_valid.reindex(columns=splits["valid"].columns)],
                      ignore_index=True)
    start = end - parse_window(window)
    tags = {"loopwatch.trigger": reason[:5000],
            TAG_REFERENCE_WINDOW: f"{start.isoformat()}/{end.isoformat()}"}
    trained = train_logged(settings, spec, train, valid, run_name=f"retrain-{end:%Y%m%dT%H%M}",
                           stage="retrain", train_params=params, tags=tags)
    client = configure(settings)
    version = register_challenger(client, params.model_name, trained)
    test = splits["test"]
    holdout = test.sample(min(GATE_ROWS, len(test)), random_state=params.split_seed)
    outcome = gate_and_promote(settings, client, params.model_name, version,
                               holdout.reset_index(drop=True), spec)
    return Retrained(trained.run_id, version, outcome.promote, outcome.champion_after,
                     outcome.reasons, trained.data_version, rows_by_origin(train))
