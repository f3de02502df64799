import numpy as np
import pandas as pd
import pytest

from loopwatch.data.splits import split_frame


@pytest.fixture
def frame():
    return pd.DataFrame({"i": np.arange(1000), "v": np.random.default_rng(1).normal(size=1000)})


def test_same_seed_same_split(frame):
    a_train, a_valid = split_frame(frame, 0.2, seed=7)
    b_train, b_valid = split_frame(frame, 0.2, seed=7)
    pd.testing.assert_frame_equal(a_train, b_train)
    pd.testing.assert_frame_equal(a_valid, b_valid)


def test_other_seed_other_split(frame):
    _, a_valid = split_frame(frame, 0.2, seed=7)
    _, b_valid = split_frame(frame, 0.2, seed=8)
    assert set(a_valid["i"]) != set(b_valid["i"])


def test_split_is_a_partition_of_the_requested_size(frame):
    train, valid = split_frame(frame, 0.25, seed=3)
    assert len(valid) == 250 and len(train) == 750
    assert set(train["i"]).isdisjoint(valid["i"])
    assert set(train["i"]) | set(valid["i"]) == set(range(1000))
