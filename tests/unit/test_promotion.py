import math

import pytest

from loopwatch.training.registry import decide_promotion


@pytest.mark.parametrize(
    ("candidate", "champion", "min_delta", "promote"),
    [
        (0.80, None, 0.0, True),  # the first model becomes champion
        (0.86, 0.85, 0.0, True),
        (0.85, 0.85, 0.0, False),  # a tie does not move the alias
        (0.84, 0.85, 0.0, False),
        (0.855, 0.85, 0.01, False),  # better, but not by the required margin
        (0.861, 0.85, 0.01, True),
        (math.nan, 0.85, 0.0, False),
        (math.nan, None, 0.0, False),  # not even a first model with a NaN metric
    ],
)
def test_promotion_rule(candidate, champion, min_delta, promote):
    decision = decide_promotion(candidate, champion, "test_accuracy", min_delta)
    assert decision.promote is promote
    assert "test_accuracy" in decision.reason
