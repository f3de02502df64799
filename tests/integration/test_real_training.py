"""The real Adult model, trained with the default params: the target test accuracy."""

import pytest

from loopwatch.tasks.tabular import pipeline
from tests.conftest import copy_adult, make_settings

pytestmark = pytest.mark.slow


def test_default_training_reaches_target_accuracy(adult_raw, tmp_path):
    copy_adult(adult_raw, tmp_path)
    settings = make_settings(tmp_path)
    pipeline.prepare(settings)
    out = pipeline.train(settings)
    metrics = pipeline.evaluate(settings)
    assert metrics["test_rows"] == 16_281
    assert metrics["test_accuracy"] >= 0.85, metrics
    assert metrics["test_roc_auc"] >= 0.90, metrics
    assert out.epochs_run >= 3
