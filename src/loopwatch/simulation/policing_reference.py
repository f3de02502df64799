"""The urn of ``policing.py`` as a deliberately plain per-day Python loop.

Why a second implementation: it reads like the paper (one run, one day, one draw
at a time) so it can be checked by eye; the tests compare the vectorised
simulator with it in distribution and ``bench/simulate.py`` compares them in time.
"""

from __future__ import annotations

import random

import numpy as np

from loopwatch.simulation.policing import UrnConfig, UrnResult, record_schedule


def _poisson_knuth(rnd: random.Random, lam: float) -> int:
    """Knuth's multiplication method: plain and exact, fine for lambda up to ~30."""
    limit, count, prod = pow(2.718281828459045, -lam), 0, rnd.random()
    while prod > limit:
        count += 1
        prod *= rnd.random()
    return count


def simulate_urn_reference(config: UrnConfig, record_every: int | None = None,
                           log_points: int | None = None) -> UrnResult:
    """The same model as the paper reads: one run, one day, one draw at a time.

    Deliberately plain Python (``random``, lists), easy to check by eye: the tests
    compare the vectorised version with it in distribution, the benchmark in time.
    """
    rnd = random.Random(config.seed)
    k, fix = config.k, config.fix
    rec_days = record_schedule(config.days, record_every, log_points)
    recorded = {int(d): i for i, d in enumerate(rec_days)}
    shares = np.empty((len(rec_days), config.runs, k))
    logs = np.zeros((4, config.runs, k))
    reported = [(i, lam) for i, lam in enumerate(config.reported_rates) if lam > 0]

    def incidents(lam: float) -> float:
        if config.poisson:
            return float(_poisson_knuth(rnd, lam))
        return 1.0 if rnd.random() < lam else 0.0

    for run in range(config.runs):
        balls = list(config.prior)
        found_sum, found_ipw, visit_ipw, visits = [0.0] * k, [0.0] * k, [0.0] * k, [0] * k
        total = sum(balls)
        shares[0, run] = [b / total for b in balls]
        for day in range(1, config.days + 1):
            total = sum(balls)
            p = [b / total for b in balls]
            u, acc, visited = rnd.random(), 0.0, k - 1
            for i in range(k):
                acc += p[i]
                if u < acc:
                    visited = i
                    break
            found = incidents(config.rates[visited])
            found_sum[visited] += found
            found_ipw[visited] += found / p[visited]
            visit_ipw[visited] += 1.0 / p[visited]
            visits[visited] += 1
            accept = True
            if fix == "min_ratio":
                accept = rnd.random() < min(p) / p[visited]
            elif fix == "one_minus_p":
                accept = rnd.random() < (1.0 - p[visited]) / (1.0 - min(p))
            if config.decay != 1.0:
                balls = [b * config.decay for b in balls]
            if accept:
                balls[visited] += found
            for i, lam in reported:
                balls[i] += incidents(lam)
            if day in recorded:
                total = sum(balls)
                shares[recorded[day], run] = [b / total for b in balls]
        logs[:, run] = found_sum, found_ipw, visit_ipw, visits
    return UrnResult(config, rec_days, shares, shares[-1], *logs)
