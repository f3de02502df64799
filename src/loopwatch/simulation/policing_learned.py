"""The policing loop with a LEARNED model: a Lightning Poisson-rate model retrained each
generation on the incidents its own patrol allocation discovered.

Where ``policing_log.py`` keeps the model as a vector of counts, here it is a
``DistrictRateModel`` (a LightningModule: district features -> log incident rate per shift)
fitted with a Poisson negative log-likelihood. The training table is the one a naive pipeline
builds from arrest records: one row per (shift, district) with the incidents recorded there,
zero where no patrol went. Reading those zeros as "no crime" makes the model learn
p_k * lambda_k instead of lambda_k; patrols allocated in proportion to its predictions then
feed it more of the same, and the allocation runs away to the higher-rate district
(Ensign et al., FAT* 2018). ``epsilon`` uniform exploration keeps every propensity
above epsilon / K but does not stop the runaway alone (see ``naive_stable_point``).

The fix (``ips=True``) weights each row by observed / propensity: a row nobody looked at
gets weight 0 (its zero is no observation) and a patrolled row stands for 1 / p_k rows.
Weights are clipped at ``clip`` (default 10, the project's ``train.ips_clip``; it bites only
when a propensity falls below 0.1, which the corrected loop never reaches) and the loss is
self-normalised (sum w * nll / sum w), so its scale does not depend on the weights. The
fitted rate of district k is then the self-normalised IPS mean, an estimate of lambda_k.

Generation 0 is allocated by a model fitted on a uniform pilot survey, i.e. a model that
starts right: what follows shows what retraining on its own decisions does to it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import lightning as L
import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, IterableDataset

from loopwatch.monitoring.feedback_loop import generation_metrics
from loopwatch.monitoring.loop_snapshots import unit_name
from loopwatch.simulation.lending_loop import quiet_fit
from loopwatch.tasks.tabular.net import weighted_loss
from loopwatch.training.weights import ips_weights


@dataclass(frozen=True)
class LearnedLoopConfig:
    rates: tuple[float, ...] = (0.3, 0.2)  # Poisson mean of incidents a patrol finds per shift
    decisions: int = 2000  # patrol shifts per generation
    generations: int = 8
    epsilon: float = 0.1  # uniform exploration slice of the allocation
    window: int = 2  # retrain on the last `window` generations (a rolling training set)
    ips: bool = False
    clip: float = 10.0  # max inverse-propensity weight
    steps: int = 150  # full-batch Adam steps per retraining
    lr: float = 0.05
    hidden: int = 0  # 0: a Poisson GLM over the features (one-hot = an embedding); >0: an MLP
    features: tuple[tuple[float, ...], ...] | None = None  # per district; None = one-hot
    seed: int = 0

    def feature_matrix(self) -> np.ndarray:
        k = len(self.rates)
        feats = np.eye(k) if self.features is None else np.asarray(self.features, dtype=float)
        if feats.shape[0] != k:
            raise ValueError("features need one row per district")
        return feats.astype(np.float32)


class DistrictRateModel(L.LightningModule):
    """log(incidents per shift) of a district from its features, trained with weighted
    Poisson NLL. Batches are (district index, incidents, weight)."""

    def __init__(self, features: np.ndarray, hidden: int = 0, lr: float = 0.05):
        super().__init__()
        self.register_buffer("features", torch.as_tensor(features, dtype=torch.float32))
        width = self.features.shape[1]
        self.net = (nn.Linear(width, 1) if hidden == 0 else
                    nn.Sequential(nn.Linear(width, hidden), nn.Tanh(), nn.Linear(hidden, 1)))
        self.lr = lr
        self.last_loss = float("nan")

    def forward(self, unit: torch.Tensor) -> torch.Tensor:
        return self.net(self.features[unit]).squeeze(-1)

    def rates(self) -> np.ndarray:
        """Predicted incidents per shift, one per district."""
        with torch.no_grad():
            return torch.exp(self.net(self.features).squeeze(-1)).double().numpy()

    def training_step(self, batch, batch_idx):
        unit, y, weight = batch
        nll = F.poisson_nll_loss(self(unit), y, log_input=True, full=False, reduction="none")
        loss = weighted_loss(nll, weight)
        self.last_loss = float(loss.detach())  # no self.log: no logger, ~1 ms a call
        return loss

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)


class _FullBatch(IterableDataset):
    """The whole table as one batch, ``steps`` times: one Lightning epoch of ``steps`` steps.

    Lightning's per-epoch overhead is many times a step's cost on a table this small.
    """

    def __init__(self, batch: tuple[torch.Tensor, ...], steps: int):
        self.batch, self.steps = batch, steps

    def __iter__(self):
        return iter([self.batch] * self.steps)


def fit_rates(model: DistrictRateModel, table: pd.DataFrame, weights: np.ndarray,
              steps: int) -> float:
    """Retrain ``model`` in place on ``table`` (unit, incidents): ``steps`` full-batch steps.

    Warm-started from the previous generation's weights, as a scheduled retraining would be.
    Returns the last step's loss.
    """
    batch = (torch.as_tensor(table["unit"].to_numpy(), dtype=torch.long),
             torch.as_tensor(table["incidents"].to_numpy(), dtype=torch.float32),
             torch.as_tensor(weights, dtype=torch.float32))
    # One intra-op thread (tiny tensors: extra threads only contend) and no "GPU available"
    # line per generation.
    with quiet_fit(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        trainer = L.Trainer(accelerator="cpu", devices=1, max_epochs=1, logger=False,
                            enable_checkpointing=False, enable_progress_bar=False,
                            enable_model_summary=False, deterministic=True)
        trainer.fit(model, DataLoader(_FullBatch(batch, steps), batch_size=None))
    return model.last_loss


def training_weights(table: pd.DataFrame, ips: bool, clip: float) -> np.ndarray:
    """Naive: every row 1. IPS: observed rows 1/propensity clipped at ``clip``, others 0."""
    if not ips:
        return np.ones(len(table), dtype=np.float32)
    return ips_weights(table, clip) * table["observed"].to_numpy(dtype=np.float32)


def patrol(rng: np.random.Generator, policy: np.ndarray, rates: np.ndarray, epsilon: float,
           shifts: int, generation: int) -> pd.DataFrame:
    """One generation of shifts as the (shift, district) table the model trains on.

    Each shift patrols one district (exploration with probability epsilon, else drawn from
    the model part of ``policy``) and records Poisson(lambda) incidents there, 0 elsewhere.
    ``propensity`` is the probability that the row's district was patrolled on that shift.
    """
    k = len(rates)
    model_part = (policy - epsilon / k) / (1 - epsilon) if epsilon < 1 else np.full(k, 1 / k)
    explore = rng.random(shifts) < epsilon
    chosen = np.where(explore, rng.integers(0, k, shifts),
                      rng.choice(k, size=shifts, p=model_part / model_part.sum()))
    found = rng.poisson(rates[chosen])
    unit = np.tile(np.arange(k), shifts)
    observed = unit == np.repeat(chosen, k)
    return pd.DataFrame({
        "shift": np.repeat(np.arange(shifts), k), "unit": unit,
        "incidents": np.where(observed, np.repeat(found, k), 0).astype(float),
        "observed": observed, "propensity": policy[unit],
        "origin": np.repeat(np.where(explore, "exploration", "model-selected"), k),
        "generation": generation,
    })


def allocation(rates_hat: np.ndarray, epsilon: float) -> np.ndarray:
    """Patrols in proportion to predicted rates, mixed with epsilon uniform exploration."""
    return (1 - epsilon) * rates_hat / rates_hat.sum() + epsilon / len(rates_hat)


def naive_stable_point(rates: tuple[float, ...], epsilon: float,
                       iterations: int = 100_000) -> np.ndarray:
    """The share the naive loop settles at: the fixed point of m -> normalise(p(m) * lambda)
    with p(m) = allocation(m). Without exploration it is all patrols to the top district."""
    lam = np.asarray(rates, dtype=float)
    m = np.full(len(lam), 1 / len(lam))
    for _ in range(iterations):
        nxt = allocation(m, epsilon) * lam
        nxt /= nxt.sum()
        if np.abs(nxt - m).max() < 1e-12:
            break
        m = nxt
    return m


def share_standard_error(rates_hat: np.ndarray, table: pd.DataFrame, weights: np.ndarray,
                         district: int = 0) -> float:
    """Delta-method standard error of the predicted share of ``district``: each rate as a
    (weighted) Poisson mean with variance rate / ESS over its rows, ESS = (sum w)^2 / sum w^2.
    """
    w = pd.Series(weights, index=table.index)
    grouped = w[w > 0].groupby(table["unit"][w > 0])
    ess = (grouped.sum() ** 2 / grouped.apply(lambda s: (s**2).sum())).reindex(
        range(len(rates_hat))).to_numpy()
    total = rates_hat.sum()
    grad = -rates_hat[district] / total**2 * np.ones(len(rates_hat))
    grad[district] += 1 / total
    return float(np.sqrt(np.sum(grad**2 * rates_hat / ess)))


@dataclass
class LearnedLoop:
    rows: pd.DataFrame  # the decision log: unit, label, origin, propensity, generation
    allocations: np.ndarray  # (generations, K): the policy that allocated each generation
    metrics: pd.DataFrame  # feedback-loop metrics per generation (monitoring.feedback_loop)
    lineage: pd.DataFrame  # per retraining: data size and origin, loss, predicted rates
    share_se: float  # standard error of the last model's share of district A


def simulate_learned_loop(config: LearnedLoopConfig) -> LearnedLoop:
    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)
    rates = np.asarray(config.rates, dtype=float)
    k, units = len(rates), list(range(len(rates)))
    model = DistrictRateModel(config.feature_matrix(), config.hidden, config.lr)
    pilot = patrol(rng, np.full(k, 1 / k), rates, 1.0, config.decisions, -1)
    fit_rates(model, pilot, training_weights(pilot, config.ips, config.clip), config.steps)
    tables, logs, allocations, metrics, lineage = [], [], [], [], []
    for gen in range(config.generations):
        model_share = model.rates() / model.rates().sum()
        policy = allocation(model.rates(), config.epsilon)
        table = patrol(rng, policy, rates, config.epsilon, config.decisions, gen)
        log = table[table["observed"]].rename(columns={"incidents": "label"})[
            ["unit", "label", "origin", "propensity", "generation"]]
        exposure = np.bincount(log["unit"], minlength=k)
        metrics.append(generation_metrics(log, exposure, units, model_shares=model_share))
        tables.append(table)
        train = pd.concat(tables[-config.window:], ignore_index=True)
        weights = training_weights(train, config.ips, config.clip)
        loss = fit_rates(model, train, weights, config.steps)
        labels = train.loc[train["observed"], "origin"].value_counts(normalize=True)
        fitted = model.rates()
        lineage.append({
            "generation": gen, "trained_on": f"{max(0, gen - config.window + 1)}-{gen}",
            "train_rows": len(train), "train_labels": int(train["observed"].sum()),
            **{f"share_origin.{o}": float(labels.get(o, 0.0))
               for o in ("model-selected", "exploration")},
            "max_weight": float(weights.max()), "train_loss": loss,
            "patrol_share_A": float(exposure[0] / exposure.sum()),
            "model_share_A": float(fitted[0] / fitted.sum()),
            **{f"rate.{unit_name(i)}": float(r) for i, r in enumerate(fitted)},
        })
        logs.append(log)
        allocations.append(policy)
    return LearnedLoop(
        pd.concat(logs, ignore_index=True), np.array(allocations),
        pd.DataFrame(metrics).rename_axis("generation"), pd.DataFrame(lineage),
        share_standard_error(model.rates(), train, weights))
