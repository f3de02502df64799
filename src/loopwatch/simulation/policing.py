"""Ensign et al.'s runaway feedback loop (FAT* 2018) as a K-district Pólya urn.

Why it is here: the urn is the smallest world in which a model trained only on
the data its own decisions produced drifts away from the truth, so it is the
acceptance test of the feedback-loop detector (the paper's published figures).

One day of one run: patrol district i with probability p_i = n_i / sum(n); it
discovers an incident with probability lambda_i (one ball) or, with ``poisson``,
Poisson(lambda_i) of them; other districts discover nothing. A 0/1 discovery
(not a fixed lambda_i balls) is what makes equal rates end in Beta(prior), as the
paper states. ``reported_rates`` add incidents everywhere whatever the patrol;
``decay`` < 1 multiplies all balls daily (the paper's Oakland figures use its
``--exponential_decay 0.01`` binomial thinning, whose mean this is).

The fix accepts a discovered update with probability w_i = min_j p_j / p_i
(``"min_ratio"``): the expected update becomes min_j p_j * lambda_i, proportional to
the truth. ``"one_minus_p"`` is the paper's (1 - p_i) / max_j (1 - p_j); it equals the
fix for K = 2 only and is kept so tests can show that it fails for K > 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

FixRule = Literal["min_ratio", "one_minus_p"]
# Cells (days x K x runs) per block: small enough for the block's arrays to stay in cache.
_BLOCK_CELLS = 131_072


@dataclass(frozen=True)
class UrnConfig:
    """One urn experiment; ``fix=True`` means the correct ``"min_ratio"`` rule."""

    rates: tuple[float, ...] = (0.3, 0.2)
    prior: tuple[float, ...] = (1.0, 1.0)
    days: int = 1000
    runs: int = 1000
    poisson: bool = False
    reported_rates: tuple[float, ...] | None = None
    decay: float = 1.0
    fix: bool | FixRule | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        rates = tuple(float(r) for r in self.rates)
        reported = tuple(float(r) for r in self.reported_rates or (0.0,) * len(rates))
        fix = "min_ratio" if self.fix is True else (self.fix or None)
        for name, value in [("rates", rates), ("reported_rates", reported), ("fix", fix),
                            ("prior", tuple(float(b) for b in self.prior))]:
            object.__setattr__(self, name, value)
        if len(rates) < 2 or not len(rates) == len(self.prior) == len(reported):
            raise ValueError("rates, prior and reported_rates need one entry per district")
        if fix not in (None, "min_ratio", "one_minus_p"):
            raise ValueError(f"unknown fix rule {fix!r}")
        if min(self.prior) <= 0 or min(rates + reported) < 0:
            raise ValueError("need prior balls > 0 and rates >= 0")
        if not self.poisson and max(rates + reported) > 1:
            raise ValueError("without poisson=True a rate is a discovery probability (<= 1)")
        if not 0 < self.decay <= 1 or min(self.days, self.runs) < 1:
            raise ValueError("need 0 < decay <= 1, days >= 1 and runs >= 1")

    @property
    def k(self) -> int:
        """Number of districts."""
        return len(self.rates)


@dataclass(frozen=True, eq=False)
class UrnResult:
    """Trajectories and the logs a monitor would keep; all arrays are per run.

    ``shares`` is (n_records, runs, K) at ``record_days`` (day 0 = prior).
    ``discovered`` is the naive count of incidents found per district;
    ``ipw_discovered`` = sum of found / p_visited (Horvitz-Thompson) and
    ``ipw_visits`` = sum of 1 / p_visited (the self-normalising denominator).
    """

    config: UrnConfig
    record_days: np.ndarray
    shares: np.ndarray
    final_shares: np.ndarray
    discovered: np.ndarray
    ipw_discovered: np.ndarray
    ipw_visits: np.ndarray
    visits: np.ndarray

    def naive_share(self) -> np.ndarray:
        """Share of discovered incidents per district: what a naive model learns."""
        return _normalise(self.discovered)

    def ips_share(self, estimator: Literal["ht", "snips"] = "ht") -> np.ndarray:
        """Inverse-propensity estimate of each district's share of true incidents.

        ``ht`` normalises Horvitz-Thompson totals across districts; ``snips``
        first turns each district's total into a self-normalised rate.
        """
        if estimator == "ht":
            return _normalise(self.ipw_discovered)
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = np.where(self.ipw_visits > 0, self.ipw_discovered / self.ipw_visits, 0.0)
        return _normalise(rate)


def stable_point(rates: tuple[float, ...] | np.ndarray) -> np.ndarray:
    """The truth the urn should converge to: lambda_i / sum(lambda)."""
    lam = np.asarray(rates, dtype=float)
    return lam / lam.sum()


def _normalise(x: np.ndarray) -> np.ndarray:
    total = x.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, x / total, np.nan)


def record_schedule(days: int, record_every: int | None = None,
                    log_points: int | None = None) -> np.ndarray:
    """Days at which shares are recorded, always with day 0 (the prior) and the last day.

    Either every ``record_every`` days (default: 100 records), or ``log_points``
    log-spaced days, which is what a log-x plot of a runaway loop needs.
    """
    if log_points:
        grid = np.geomspace(1, days, log_points).round().astype(int)
    else:
        grid = np.arange(0, days + 1, record_every or max(1, days // 100))
    return np.unique(np.r_[0, grid, days])


def _count_dtype(config: UrnConfig) -> type:
    """float32 while ball counts stay exact integers (< 2**24): half the memory traffic."""
    per_day = max(config.rates) + sum(config.reported_rates)
    bound = sum(config.prior) + 2.0 * per_day * config.days + 100.0
    return np.float32 if bound < 2**24 and config.decay == 1.0 else np.float64


def _draw_block(rng: np.random.Generator, config: UrnConfig, visit: np.ndarray,
                incidents: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Fill one block's random numbers in place, so that the day loop calls no generator.

    0/1 discovery: one uniform per (day, run), shifted by the last district's rate
    (only the visited district's draw is used). Poisson: counts for every district,
    differenced along K so that ``mask @ diff + last`` picks the visited one.
    """
    n, k, runs = len(visit), config.k, config.runs
    rng.random(dtype=visit.dtype, out=visit)
    if config.poisson:
        counts = rng.poisson(np.asarray(config.rates)[:, None], size=(n, k, runs))
        incidents[:, :-1] = counts[:, :-1] - counts[:, 1:]
        incidents[:, -1] = counts[:, -1]
    else:
        rng.random(dtype=incidents.dtype, out=incidents)
        incidents -= incidents.dtype.type(config.rates[-1])
    extra = None
    if any(config.reported_rates):
        lam = np.asarray(config.reported_rates)[:, None]
        rep = rng.poisson(lam, (n, k, runs)) if config.poisson else rng.random((n, k, runs)) < lam
        extra = np.cumsum(rep, axis=1).astype(visit.dtype)
    u_fix = rng.random((n, runs), dtype=visit.dtype) if config.fix else None
    return extra, u_fix


def _day_loop(config: UrnConfig, days: list[tuple], extra: np.ndarray | None,
              u_fix: np.ndarray | None) -> None:
    """Advance one block of days in place: the hot loop, six ufuncs with ``out=``.

    The urn is kept as cumulative counts C_k = n_0 + ... + n_k. District j is
    patrolled when C_(j-1) <= u * C_last < C_j, so the mask ``C > u * C_last`` is 1
    from j onwards: exactly the rows of C that a discovery in j increases. Its
    last row is always 1 (fl(u * x) < x for u < 1): the buffer holds it preset and
    the loop writes rows 0..K-2 only. ``days`` holds prebuilt views, one tuple per day.
    """
    dtype, runs = days[0][0].dtype, days[0][0].shape[1]
    rates = np.asarray(config.rates, dtype=dtype)
    rate_diff = rates[:-1] - rates[1:]  # rate_diff @ mask = visited rate - last rate
    thr, rate, tmp = np.empty(runs, dtype), np.empty(runs, dtype), np.empty_like(days[0][0])
    mul, greater, less, add, dot = np.multiply, np.greater, np.less, np.add, np.dot
    poisson, fix, decay = config.poisson, config.fix, config.decay
    for i, (c, lead, total, mask, v, nxt, f, u, inc) in enumerate(days):
        mul(u, total, thr)
        greater(lead, thr, v)
        if poisson:  # inc = (per-district count differences, last district's count)
            np.einsum("kr,kr->r", v, inc[0], out=f)
            f += inc[1]
        else:  # inc = uniform - last rate: found when below visited rate - last rate
            dot(rate_diff, v, rate)
            less(inc, rate, f)
        added = f if fix is None else f * _accept(fix, c, mask, u_fix[i])
        mul(mask, added, tmp)
        if decay != 1.0:
            mul(c, decay, nxt)
            nxt += tmp
        else:
            add(c, tmp, nxt)
        if extra is not None:
            nxt += extra[i]


def _accept(rule: str, cum: np.ndarray, mask: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Whether today's discovery enters the urn under the fix ``rule`` (per run)."""
    balls = np.diff(cum, axis=0, prepend=0)
    onehot = np.diff(mask, axis=0, prepend=0)
    b_vis, b_min, total = np.einsum("kr,kr->r", onehot, balls), balls.min(0), cum[-1]
    if rule == "min_ratio":  # w = n_min / n_visited
        return u * b_vis < b_min
    return u * (total - b_min) < total - b_vis  # w = (1 - p_visited) / (1 - p_min)


def _shares(cum: np.ndarray) -> np.ndarray:
    """(K, runs) cumulative counts -> (runs, K) shares, in float64."""
    cum = cum.astype(float)
    return (np.diff(cum, axis=0, prepend=0.0) / cum[-1]).T


def _block_logs(cum: np.ndarray, lead: np.ndarray, found: np.ndarray,
                scratch: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """Logs of one block (4, K, runs), in bulk after its day loop, in cumulative-K form.

    Sums of ``mask * x`` over days are cumulative over districts (one diff along K
    at the very end undoes that); the mask's unstored last row is all ones.
    ``scratch`` buffers are reused across blocks: fresh ones cost page faults.
    """
    n = len(lead)
    later, step, inv_p = scratch[0][:n], scratch[1][:n], scratch[2][:n]
    np.subtract(cum[:, 1:], cum[:, :-1], out=later)  # n_1 .. n_(K-1)
    np.subtract(cum[:, :1], later[:, :1], out=step[:, :1])  # step_k = n_k - n_(k+1)
    np.subtract(later[:, :-1], later[:, 1:], out=step[:, 1:])
    np.einsum("ikr,ikr->ir", lead, step, out=inv_p)  # n_visited - n_(K-1)
    inv_p += later[:, -1]
    np.divide(cum[:, -1], inv_p, out=inv_p)  # 1 / p_visited
    logs = np.empty((4,) + cum.shape[1:])
    logs[0, :-1], logs[0, -1] = np.einsum("ikr,ir->kr", lead, found), found.sum(0)
    logs[1, :-1] = np.einsum("ikr,ir,ir->kr", lead, found, inv_p)
    logs[1, -1] = np.einsum("ir,ir->r", found, inv_p)
    logs[2, :-1], logs[2, -1] = np.einsum("ikr,ir->kr", lead, inv_p), inv_p.sum(0)
    logs[3, :-1], logs[3, -1] = lead.sum(0), n
    return logs


def simulate_urn(config: UrnConfig, record_every: int | None = None,
                 log_points: int | None = None) -> UrnResult:
    """Run ``config.runs`` urns at once: numpy over runs, a Python loop over days.

    Random numbers are drawn per block of days into buffers sized to stay in cache,
    the day loop does six array operations on prebuilt (K, runs) views, and the
    logs are computed per block from the stored masks rather than day by day.
    """
    rng = np.random.default_rng(config.seed)
    k, runs, dtype = config.k, config.runs, _count_dtype(config)
    rec_days = record_schedule(config.days, record_every, log_points)
    shares = np.empty((len(rec_days), runs, k))
    logs = np.zeros((4, k, runs))  # cumulative over K: discovered, ipw_disc, ipw_visits, visits
    block = max(1, min(config.days, _BLOCK_CELLS // (k * runs)))
    hist = np.empty((block + 1, k, runs), dtype)
    hist[0] = np.cumsum(config.prior)[:, None]
    shares[0] = _shares(hist[0])
    mask, found = np.ones((block, k, runs), dtype), np.empty((block, runs), dtype)
    visit = np.empty((block, runs), dtype)
    incidents = np.empty((block, k, runs) if config.poisson else (block, runs), dtype)
    scratch = (np.empty((block, k - 1, runs), dtype), np.empty((block, k - 1, runs), dtype),
               np.empty((block, runs), dtype))
    per_day_inc = ([(x[:-1], x[-1]) for x in incidents] if config.poisson else incidents)
    days = list(zip(hist[:-1], hist[:-1, :-1], hist[:-1, -1], mask, mask[:, :-1], hist[1:],
                    found, visit, per_day_inc, strict=True))
    for start in range(0, config.days, block):
        n = min(block, config.days - start)
        extra, u_fix = _draw_block(rng, config, visit[:n], incidents[:n])
        _day_loop(config, days[:n], extra, u_fix)
        logs += _block_logs(hist[:n], mask[:n, :-1], found[:n], scratch)
        for row in np.flatnonzero((rec_days > start) & (rec_days <= start + n)):
            shares[row] = _shares(hist[rec_days[row] - start])
        hist[0] = hist[n]
    per_district = np.diff(logs, axis=1, prepend=0.0)
    discovered, ipw_disc, ipw_visits, visits = (x.T.copy() for x in per_district)
    return UrnResult(config, rec_days, shares, shares[-1], discovered, ipw_disc, ipw_visits, visits)
