import numpy as np
import pandas as pd
import pytest
import torch

from loopwatch.tasks.tabular.net import weighted_loss
from loopwatch.training.weights import ips_weights


def test_weights_are_inverse_propensity_clipped_and_one_when_not_logged():
    frame = pd.DataFrame({"propensity": [0.5, 0.02, np.nan, 1.0]})
    assert ips_weights(frame, clip=10.0).tolist() == [2.0, 10.0, 1.0, 1.0]


def test_no_propensity_column_or_weighting_off_means_unit_weights():
    assert ips_weights(pd.DataFrame({"x": [1, 2]}), clip=10.0).tolist() == [1.0, 1.0]
    assert ips_weights(pd.DataFrame({"propensity": [0.1]}), clip=None).tolist() == [1.0]


def test_impossible_propensity_is_rejected_by_name():
    with pytest.raises(ValueError, match="propensity"):
        ips_weights(pd.DataFrame({"propensity": [0.0]}), clip=10.0)


def test_weighted_loss_is_self_normalised_mean():
    per_row = torch.tensor([1.0, 2.0, 3.0])
    assert weighted_loss(per_row, torch.ones(3)) == pytest.approx(2.0)
    assert weighted_loss(per_row, torch.tensor([1.0, 0.0, 3.0])) == pytest.approx(2.5)
