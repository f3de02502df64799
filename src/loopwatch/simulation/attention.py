"""D'Amour et al.'s attention allocation world ("Fairness is not static", FAT* 2020).

Why it is here: it shows a loop the urn cannot: the allocation changes the
world itself (incident rates fall where attention goes and rise where it does
not), and a fair-looking static policy becomes unfair over time (D'Amour et al., FAT* 2020).

Per step and run: the agent splits N units over K sites (a_k); incidents
y_k ~ Poisson(r_k) occur; a_k units discover min(a_k, y_k) of them; then
r_k <- r_k + d if a_k = 0 else max(0, r_k - d * a_k).

The agents follow ml-fairness-gym (agents/allocation_agents.py and
experiments/acm_fat_2020/attention_allocation_experiment_fat_main.py):
``uniform`` is RandomAgent (multinomial with equal probabilities);
``proportional`` is MLEProbabilityMatchingAgent: with probability epsilon a
uniform multinomial, otherwise a multinomial proportional to per-site rates
fitted by censored-Poisson maximum likelihood on the last ``window`` steps of
(discovered, allocated) pairs, refitted every ``refit_every`` steps once
``burn_steps`` have passed; ``greedy`` is MLEGreedyAgent with alpha = 1 (no
fairness constraint): units go one by one to the largest marginal expected
discovery P(Y_k >= a_k + 1), i.e. the yield-maximising allocation, again with
epsilon-uniform exploration. Delta is gym's "discovered/occurred range
weighted": per site, total discovered / total occurred in a run, averaged
over runs, then max minus min over sites.

Deviations (all small, all chosen so the world can be vectorised across runs):
the MLE is solved by bisection on the score, clamped to [1e-6, 50] where the
window is uninformative about one side (gym runs statsmodels' Nelder-Mead);
a site with no information keeps its previous estimate; before the first fit
the greedy agent allocates uniformly (gym's greedy puts every unit on site 0
when all beliefs are 0); the location features of gym's observation are not
simulated (no agent here reads them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

AgentKind = Literal["uniform", "proportional", "greedy"]
_RATE_BOUNDS = (1e-6, 50.0)  # where a censored window leaves the MLE unbounded


@dataclass(frozen=True)
class AttentionConfig:
    """The world; defaults are the paper's setting (gym's fat_main.py)."""

    rates: tuple[float, ...] = (8.0, 6.0, 4.0, 3.0, 1.5)
    units: int = 6
    steps: int = 1000
    dynamic_rate: float = 0.0
    runs: int = 50
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "rates", tuple(float(r) for r in self.rates))
        if len(self.rates) < 2 or min(self.rates) < 0 or self.dynamic_rate < 0:
            raise ValueError("need >= 2 sites, rates >= 0 and dynamic_rate >= 0")
        if self.units < 1 or self.steps < 1 or self.runs < 1:
            raise ValueError("units, steps and runs must be >= 1")


@dataclass(frozen=True)
class Agent:
    """An allocation policy; the defaults are gym's for the FAT* 2020 experiments."""

    kind: AgentKind = "proportional"
    epsilon: float = 0.1
    burn_steps: int = 25
    refit_every: int = 10
    window: int = 100

    def __post_init__(self) -> None:
        if self.kind not in ("uniform", "proportional", "greedy"):
            raise ValueError(f"unknown agent kind {self.kind!r}")
        if not 0 <= self.epsilon <= 1 or min(self.refit_every, self.window) < 1:
            raise ValueError("need 0 <= epsilon <= 1, refit_every >= 1, window >= 1")


@dataclass(frozen=True, eq=False)
class AttentionResult:
    """Per-run totals over the whole episode, each of shape (runs, K)."""

    config: AttentionConfig
    agent: Agent
    discovered: np.ndarray
    occurred: np.ndarray
    allocated: np.ndarray
    final_rates: np.ndarray

    def discovery_ratio(self) -> np.ndarray:
        """Discovered / occurred per run and site (NaN where nothing occurred)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.occurred > 0, self.discovered / self.occurred, np.nan)

    def delta(self) -> float:
        """Gym's Delta: range over sites of the run-averaged discovery ratio."""
        mean_ratio = np.nanmean(self.discovery_ratio(), axis=0)
        return float(np.nanmax(mean_ratio) - np.nanmin(mean_ratio))

    def delta_per_run(self) -> np.ndarray:
        """Delta of each run on its own: its spread gives tests their tolerance."""
        ratio = self.discovery_ratio()
        return np.nanmax(ratio, axis=1) - np.nanmin(ratio, axis=1)


def censored_poisson_mle(observed: np.ndarray, allocated: np.ndarray, units: int,
                         previous: np.ndarray, iterations: int = 30) -> np.ndarray:
    """Rate per (run, site) from (discovered, allocated) windows of shape (runs, K, W).

    A discovery count below the allocation is a Poisson observation; one equal
    to it only says y >= a (censored). The log-likelihood is concave in the
    rate, so the score is monotone and bisection on log(rate) finds the root.
    """
    from scipy.special import gammainc, gammaln  # lazy: keeps package import cheap

    exact = observed < allocated
    n_exact = exact.sum(-1)
    sum_exact = np.where(exact, observed, 0).sum(-1)
    a = np.arange(1, units + 1)
    censored = (observed == allocated)[..., None] & (allocated[..., None] == a)
    n_censored = censored.sum(-2)  # (runs, K, units): how many windows were censored at a

    def score(rate: np.ndarray) -> np.ndarray:
        lam = rate[..., None]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
            # d/d(rate) log P(Y >= a) = P(Y = a - 1) / P(Y >= a); both underflow only
            # when rate << a, where the ratio ~ a / rate is huge: read 0/0 as +inf.
            hazard = np.exp((a - 1) * np.log(lam) - lam - gammaln(a)) / gammainc(a, lam)
        hazard = np.where(n_censored > 0, np.nan_to_num(hazard, nan=np.inf), 0.0)
        return sum_exact / rate - n_exact + (n_censored * hazard).sum(-1)

    lo = np.full(previous.shape, np.log(_RATE_BOUNDS[0]))
    hi = np.full(previous.shape, np.log(_RATE_BOUNDS[1]))
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        up = score(np.exp(mid)) > 0
        lo, hi = np.where(up, mid, lo), np.where(up, hi, mid)
    informative = (n_exact + n_censored.sum(-1)) > 0
    return np.where(informative, np.exp(0.5 * (lo + hi)), previous)


def _allocate(rng: np.random.Generator, agent: Agent, beliefs: np.ndarray, fitted: bool,
              units: int) -> np.ndarray:
    """One allocation (runs, K) of ``units`` units per run."""
    runs, k = beliefs.shape
    uniform = np.full((runs, k), 1.0 / k)
    if agent.kind == "uniform" or not fitted:
        return rng.multinomial(units, uniform)
    explore = rng.random(runs) < agent.epsilon
    if agent.kind == "proportional":
        total = beliefs.sum(1, keepdims=True)
        probs = np.where(total > 0, beliefs / np.where(total > 0, total, 1.0), uniform)
        return rng.multinomial(units, np.where(explore[:, None], uniform, probs))
    # Greedy: P(Y >= a) falls with a, so the top `units` marginal gains over all
    # (site, a) pairs are exactly what adding units one at a time would pick.
    from scipy.special import gammainc

    gains = gammainc(np.arange(1, units + 1), beliefs[..., None]).reshape(runs, -1)
    top = np.argpartition(-gains, units - 1, axis=1)[:, :units] // units
    greedy = (top[..., None] == np.arange(k)).sum(1)
    return np.where(explore[:, None], rng.multinomial(units, uniform), greedy)


def simulate_attention(config: AttentionConfig, agent: Agent | None = None) -> AttentionResult:
    """Run ``config.runs`` episodes at once (numpy over runs, a loop over steps)."""
    agent = agent or Agent()
    rng = np.random.default_rng(config.seed)
    runs, k, d = config.runs, len(config.rates), config.dynamic_rate
    rates = np.tile(np.asarray(config.rates), (runs, 1))
    beliefs = np.zeros((runs, k))
    seen_log = np.zeros((runs, k, agent.window), dtype=np.int64)
    alloc_log = np.zeros((runs, k, agent.window), dtype=np.int64)
    totals = np.zeros((3, runs, k), dtype=np.int64)  # discovered, occurred, allocated
    fitted = False
    for step in range(1, config.steps + 1):
        alloc = _allocate(rng, agent, beliefs, fitted, config.units)
        occurred = rng.poisson(rates)
        seen = np.minimum(alloc, occurred)
        totals += np.stack([seen, occurred, alloc])
        rates = np.where(alloc == 0, rates + d, np.maximum(0.0, rates - d * alloc))
        seen_log[..., step % agent.window] = seen
        alloc_log[..., step % agent.window] = alloc
        if agent.kind != "uniform" and step >= agent.burn_steps and step % agent.refit_every == 0:
            beliefs = censored_poisson_mle(seen_log, alloc_log, config.units, beliefs)
            fitted = True
    return AttentionResult(config, agent, *totals, final_rates=rates)


def sweep_dynamic_rate(config: AttentionConfig, agents: Mapping[str, Agent],
                       dynamic_rates: Sequence[float] = (0.0, 0.01, 0.05),
                       ) -> dict[str, dict[float, AttentionResult]]:
    """Every agent at every d with the same seed: the paper's Delta-vs-d experiment."""
    return {
        name: {
            float(d): simulate_attention(replace(config, dynamic_rate=float(d)), agent)
            for d in dynamic_rates
        }
        for name, agent in agents.items()
    }


def paper_agents() -> dict[str, Agent]:
    """The agents of the paper's Delta figure that this module implements."""
    return {
        "uniform": Agent("uniform"),
        "proportional eps=0.1": Agent("proportional", epsilon=0.1),
        "proportional eps=0.5": Agent("proportional", epsilon=0.5),
        "greedy": Agent("greedy", epsilon=0.1),
    }
