"""The policing loop as a retrained model that writes a prediction log, generation by generation.

Where ``policing.py`` reproduces the paper's urn, this world produces what the
pipeline sees: training rows with provenance and propensities, so the
feedback-loop detector (``monitoring.feedback_loop``) can be tested on log-shaped
data. Each generation the model allocates ``decisions`` patrols from its current
estimate of each district's share of incidents (mixed with ε uniform
exploration), every patrol logs its district, outcome, origin and propensity,
citizens report some incidents organically, and the model is retrained on all
rows so far: naively (counts of discovered incidents) or, with ``ips``, weighting
each decision-revealed row by 1/propensity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from loopwatch.monitoring.feedback_loop import generation_metrics


@dataclass(frozen=True)
class LoggedLoopConfig:
    rates: tuple[float, ...] = (0.3, 0.2)  # chance a patrol discovers an incident
    reported: tuple[float, ...] = (2.0, 2.0)  # organic reports per generation (Poisson mean)
    decisions: int = 2000  # patrols per generation
    generations: int = 12
    epsilon: float = 0.1
    ips: bool = False
    # Generation 0 starts from a model that is right (its evidence is the true shares,
    # weighted as this many incidents): the loop then shows what retraining does to it.
    prior_strength: float = 50.0
    seed: int = 0


@dataclass
class LoggedLoop:
    rows: pd.DataFrame  # unit, label, origin, propensity, generation
    allocations: np.ndarray  # (generations, K): the policy's probabilities per generation
    metrics: pd.DataFrame  # one row of feedback-loop metrics per generation


def simulate_logged_loop(config: LoggedLoopConfig) -> LoggedLoop:
    rng = np.random.default_rng(config.seed)
    rates = np.asarray(config.rates, dtype=float)
    k = len(rates)
    units = list(range(k))
    evidence = config.prior_strength * rates / rates.sum()  # the model's weighted counts
    frames, allocations, metrics = [], [], []
    for gen in range(config.generations):
        model = evidence / evidence.sum()
        policy = (1 - config.epsilon) * model + config.epsilon / k
        explore = rng.random(config.decisions) < config.epsilon
        chosen = np.where(explore, rng.integers(0, k, config.decisions),
                          rng.choice(k, size=config.decisions, p=model))
        found = (rng.random(config.decisions) < rates[chosen]).astype(float)
        decided = pd.DataFrame({
            "unit": chosen, "label": found, "propensity": policy[chosen],
            "origin": np.where(explore, "exploration", "model-selected"),
        })
        n_reported = rng.poisson(config.reported)
        organic = pd.DataFrame({
            "unit": np.repeat(units, n_reported), "label": 1.0, "propensity": 1.0,
            "origin": "organic",
        })
        rows = pd.concat([decided, organic], ignore_index=True).assign(generation=gen)
        exposure = np.bincount(chosen, minlength=k)
        metrics.append(generation_metrics(rows, exposure, units, model_shares=model))
        weight = 1.0 / rows["propensity"] if config.ips else 1.0
        evidence += (rows["label"] * weight).groupby(rows["unit"]).sum().reindex(
            units, fill_value=0.0).to_numpy()
        frames.append(rows)
        allocations.append(policy)
    return LoggedLoop(pd.concat(frames, ignore_index=True), np.array(allocations),
                      pd.DataFrame(metrics).rename_axis("generation"))
