"""The decision policies of every task: scores in, actions out, each with the probability
it was taken. A threshold for binary tasks (``DecisionPolicy``), the argmax for multi-class
ones (``ClassPolicy``) and an ε-greedy slate for recommenders (``decide_slate``); each
task has one ε setting (``tasks.<task>.epsilon``).

A threshold on P(positive) picks the greedy action; with probability ε a
uniformly random action replaces it (exploration). Every decision carries its
propensity, the probability with which *that* action was taken under the
policy, so later analyses can re-weight logged outcomes (inverse-propensity weighting):

    greedy action:  1 − ε + ε/|A|     (chosen greedily, or drawn at random and equal)
    other actions:  ε/|A|

The action set is generic and ordered like the model's classes: action ``i``
is the action a confident prediction of class ``i`` leads to. For the Adult
task (classes ``<=50K``, ``>50K``) the default names read as a lending
decision: ``deny``, ``approve``.

``decide`` is pure and seeded: the same scores and generator state always give
the same decisions; with ε = 0 it draws nothing from the generator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_ACTIONS: tuple[str, str] = ("deny", "approve")


@dataclass(frozen=True)
class Decisions:
    """One decision per scored row; arrays of equal length."""

    action: np.ndarray  # int index into the policy's actions
    greedy: np.ndarray  # the action the threshold alone would have taken
    explored: np.ndarray  # bool: the action came from the uniform exploration draw
    propensity: np.ndarray  # float: P(action | scores) under the policy

    def __len__(self) -> int:
        return len(self.action)


def decide(p_positive: np.ndarray, threshold: float, epsilon: float,
           rng: np.random.Generator | None, n_actions: int = 2) -> Decisions:
    """Threshold + ε-uniform exploration over ``n_actions`` actions.

    The exploration flag marks rows whose action was drawn at random, even when
    the draw happens to equal the greedy action: it says *how* the action was
    chosen, while the propensity says how likely it was.
    """
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"epsilon must be in [0, 1], got {epsilon}")
    if n_actions != 2:
        # A threshold maps a score to 2 actions; more actions need another greedy rule.
        raise ValueError(f"a threshold policy has 2 actions, got {n_actions}")
    p_positive = np.asarray(p_positive, dtype=np.float64)
    n = len(p_positive)
    greedy = (p_positive >= threshold).astype(np.int64)
    if epsilon == 0.0:
        return Decisions(greedy, greedy, np.zeros(n, dtype=bool), np.ones(n))
    if rng is None:
        raise ValueError("epsilon > 0 needs a random generator")
    # Both draws always happen, so the stream consumed per row is fixed (reproducible runs).
    explored = rng.random(n) < epsilon
    random_action = rng.integers(0, n_actions, size=n)
    action = np.where(explored, random_action, greedy)
    share = epsilon / n_actions
    propensity = np.where(action == greedy, 1.0 - epsilon + share, share)
    return Decisions(action, greedy, explored, propensity)


@dataclass(frozen=True)
class DecisionPolicy:
    """The settings of ``decide`` plus the names of the actions, as served and logged."""

    threshold: float = 0.5
    epsilon: float = 0.0
    actions: tuple[str, str] = DEFAULT_ACTIONS

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"threshold must be in (0, 1), got {self.threshold}")
        if not 0.0 <= self.epsilon <= 1.0:
            raise ValueError(f"epsilon must be in [0, 1], got {self.epsilon}")
        if len(self.actions) != 2 or len(set(self.actions)) != 2:
            raise ValueError(f"a threshold policy needs 2 distinct actions, got {self.actions}")

    def decide(self, p_positive: np.ndarray, rng: np.random.Generator | None) -> Decisions:
        return decide(p_positive, self.threshold, self.epsilon, rng, len(self.actions))

    def names(self, decisions: Decisions) -> list[str]:
        return [self.actions[i] for i in decisions.action.tolist()]


def decide_argmax(proba: np.ndarray, epsilon: float, rng: np.random.Generator | None
                  ) -> Decisions:
    """The predicted class (argmax), or with probability ε a uniformly random class: a
    multi-class task's decision with the same propensity rule as the threshold's."""
    proba = np.asarray(proba, dtype=np.float64)
    n, k = proba.shape if proba.ndim == 2 else (0, 1)
    greedy = proba.argmax(axis=1) if n else np.zeros(0, dtype=np.int64)
    if epsilon == 0.0:
        return Decisions(greedy, greedy, np.zeros(n, dtype=bool), np.ones(n))
    if rng is None:
        raise ValueError("epsilon > 0 needs a random generator")
    explored = rng.random(n) < epsilon
    action = np.where(explored, rng.integers(0, k, size=n), greedy)
    share = epsilon / k
    propensity = np.where(action == greedy, 1.0 - epsilon + share, share)
    return Decisions(action, greedy, explored, propensity)


@dataclass(frozen=True)
class ClassPolicy:
    """A multi-class model's decision is a class name (argmax, ε-greedy)."""

    classes: tuple[str, ...]
    epsilon: float = 0.0

    @property
    def actions(self) -> tuple[str, ...]:
        return self.classes

    def decide(self, proba: np.ndarray, rng: np.random.Generator | None) -> Decisions:
        return decide_argmax(proba, self.epsilon, rng)

    def names(self, decisions: Decisions) -> list[str]:
        return [self.classes[i] for i in decisions.action.tolist()]


@dataclass(frozen=True)
class Slate:
    """A served slate: the items shown, each with its propensity; ``explored`` when the
    whole slate was the uniformly random one."""

    items: np.ndarray
    in_top: np.ndarray
    propensity: np.ndarray
    explored: bool


def decide_slate(top: np.ndarray, candidates: np.ndarray, epsilon: float,
                 rng: np.random.Generator) -> Slate:
    """The ranked top-k, or with probability ε k uniformly random candidates (exploration).
    Each shown item's propensity is the probability this policy shows it:
    (1 - ε)·[in top-k] + ε·k/|candidates| (capped at 1)."""
    k = len(top)
    explored = bool(rng.random() < epsilon)
    if explored:
        items = rng.choice(candidates, size=min(k, len(candidates)), replace=False)
        in_top = np.isin(items, top)
    else:
        items, in_top = np.asarray(top), np.ones(k, dtype=bool)
    propensity = (1 - epsilon) * in_top + epsilon * k / max(len(candidates), 1)
    return Slate(items, in_top, np.minimum(propensity, 1.0), explored)
