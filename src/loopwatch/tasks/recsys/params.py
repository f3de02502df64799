"""Recommender settings: the ``tasks.recsys:`` section of params.yaml.

Defaults follow fastai's collab lesson (50 factors, y_range (0, 5.5), AdamW weight decay,
one-cycle at 5e-3 for 5 epochs) on a seeded random 20% test split. ``loop`` shapes the
feedback-loop simulation; tests shrink both.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from loopwatch.tasks.base import TaskParams

# The registry promotes on a higher-is-better metric: the negated test RMSE.
PROMOTION_METRIC = "test_neg_rmse"


class LoopParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    generations: int = Field(10, ge=2)  # retraining rounds after the organic start
    k: int = Field(10, ge=1)  # slate length shown to each user
    epsilon: float = Field(0.1, ge=0, le=1)  # share of users shown a uniformly random slate
    consume: int = Field(2, ge=1)  # items each user consumes per generation (best of the slate)
    users_per_generation: float = Field(1.0, gt=0, le=1)  # share of users active per round
    start_ratings: int = Field(20_000, ge=100)  # organic ratings the first model sees
    truth_noise: float = Field(0.5, ge=0)  # std of a user's rating around the oracle's
    eval_pairs_per_user: int = Field(50, ge=5)  # uniformly random pairs for the MCAR RMSE
    relevant_top: int = Field(50, ge=1)  # a user's true top-N items count as relevant
    max_epochs: int = Field(5, ge=1)  # per retraining
    seed: int = 0
    arms: list[str] = Field(default_factory=lambda: ["model", "random", "ideal"])
    # Retrain a model on the random arm's data too (its slates never use it): what the
    # model would learn from uniformly collected data. Doubles the training time.
    train_random_arm: bool = True


class RecsysParams(TaskParams):
    section = "tasks.recsys"
    dataset: Literal["ml-100k"] = "ml-100k"
    test_fraction: float = Field(0.2, gt=0, lt=1)  # seeded random rows, fastai-style
    valid_fraction: float = Field(0.05, gt=0, lt=1)  # of the non-test rows: per-epoch curves
    split_seed: int = 42
    kind: Literal["dot", "nn"] = "dot"
    n_factors: int = Field(50, ge=1)
    y_range: tuple[float, float] = (0.0, 5.5)
    layers: list[int] = Field(default_factory=lambda: [100])  # nn only
    dropout: float = Field(0.1, ge=0, lt=1)  # nn only
    seed: int = 42
    max_epochs: int = Field(5, ge=1)
    batch_size: int = Field(256, ge=1)
    lr: float = Field(5e-3, gt=0)
    # fastai uses 0.1 at batch size 64; decay is applied per step, so 4x larger batches need
    # ~3x more of it for the same shrinkage (measured on the valid split: 0.3 best).
    weight_decay: float = Field(0.3, ge=0)
    model_name: str = "movielens-collab"
    k: int = Field(10, ge=1)  # top-k of `loopwatch recommend` and precision@k
    relevant_rating: float = Field(4.0, ge=1, le=5)  # a test rating this high is a hit
    epsilon: float = Field(0.1, ge=0, le=1)  # exploration share of served slates
    loop: LoopParams = Field(default_factory=LoopParams)
