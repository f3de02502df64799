"""The selective-labels lending loop on Adult: a Lightning model retrained on the outcomes
its own approvals revealed, generation by generation, through the real prediction log.

Lakkaraju et al. (KDD 2017): a lender sees whether a loan was repaid only when it granted
the loan. Here the "loan is repaid" outcome is Adult's ``income == >50K``. Generation 0's
model learns from a small organic seed (a young lender's first data); each generation
``applicants`` people from the Adult test pool are scored, decided by the serving
``DecisionPolicy`` (threshold + ε exploration), logged to a SQLite ``LogStore`` exactly as
the service logs them (``scoring.build_rows``), and only approved or explored applicants'
outcomes come back (``lending.observe_outcomes``, attached with ``LogStore.add_feedback``).
The next model is retrained on seed + every revealed row, so the decision-revealed share ρ
of its training labels grows each generation.

Arms differ only in how they retrain and explore (same applicants, same draws per
generation, same generation-0 model):

``naive``           revealed rows count once: the training set over-represents those the
                    model already approved;
``ips``             each revealed row weighted by 1 / P(label revealed), clipped
                    (``TabularParams.ips_weighting``): an explored denial stands for 1/ε;
``no-exploration``  ε = 0: denied applicants never get a label at all, so no weight can
                    bring them back (P(reveal) = 0 has no inverse).

Everything the metrics need is read back from the log (``lending_loop_metrics``): the
simulation only adds what it alone knows, every applicant's true outcome.
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from loopwatch import feedback
from loopwatch.simulation import lending
from loopwatch.simulation.traffic import DECISION_STREAM, NO_DRIFT, day_rng, day_traffic

START = datetime(2026, 1, 5, tzinfo=UTC)  # generation g is scored at START + g days, midday


@dataclass(frozen=True)
class Arm:
    name: str
    ips: bool  # weight revealed rows by 1 / P(label revealed) when retraining
    epsilon: float  # exploration share of the decision policy


def default_arms(epsilon: float) -> tuple[Arm, ...]:
    return (Arm("naive", False, epsilon), Arm("ips", True, epsilon),
            Arm("no-exploration", False, 0.0))


@dataclass(frozen=True)
class LendingData:
    """The Adult ingredients: organic rows (seed + validation) and the applicant pool, which
    no model trains on before its applicants' outcomes are revealed. ``scenario.world.World``
    has the same attributes and can be passed instead."""

    spec: Any  # data.tabular.TabularSpec
    organic_train: pd.DataFrame
    organic_valid: pd.DataFrame
    applicant_pool: pd.DataFrame


@dataclass(frozen=True)
class LendingLoopConfig:
    generations: int = 6
    applicants: int = 3000  # per generation
    seed_rows: int = 2000  # organic rows the first model learns from
    valid_rows: int = 1000  # organic validation rows (early stopping), the same every fit
    reference_rows: int = 2000  # frozen pool rows on which the contraction κ is measured
    threshold: float = 0.5
    epsilon: float = 0.1
    clip: float = 10.0  # max IPS weight; 1/ε = 10 is not clipped at the default ε
    group: str = "sex"  # the sensitive attribute of the per-group metrics
    max_epochs: int = 5
    layers: tuple[int, ...] = (100, 50)
    batch_size: int = 256
    lr: float = 0.01
    n_boot: int = 200  # bootstrap resamples of the fairness gaps
    seed: int = 0

    def train_params(self, ips: bool):
        from loopwatch.tasks.tabular.params import TabularParams

        # patience > max_epochs: every fit runs its epochs; the best one is still restored.
        return TabularParams(seed=self.seed, max_epochs=self.max_epochs,
                             patience=self.max_epochs + 1, batch_size=self.batch_size, lr=self.lr,
                             layers=list(self.layers), accelerator="cpu", ips_weighting=ips,
                             ips_clip=self.clip, enable_progress_bar=False)


@dataclass
class ArmRun:
    """One arm's loop: its prediction log, what it trained on, and what the simulation knows."""

    arm: Arm
    store: Any  # serving.log_store.LogStore holding every decision and revealed label
    model_name: str  # the log's model_name of this arm; model_version = generation
    truth: pd.Series  # prediction_id -> true outcome, for every logged applicant
    training_sets: list[pd.DataFrame]  # per generation g: seed + labels revealed by 0..g
    reference_scores: list[np.ndarray]  # P(positive) of model g on the frozen reference set
    extras: list[dict[str, float]] = field(default_factory=list)  # per-generation lineage


def pick_rows(frame: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    order = rng.permutation(len(frame))[: min(n, len(frame))]
    return frame.iloc[np.sort(order)].reset_index(drop=True)


def fit_model(spec, train: pd.DataFrame, valid: pd.DataFrame, params) -> Any:
    """The tabular task's untracked fit (``fit_task``) quietly, one torch thread, the best
    epoch's checkpoint in a throwaway folder; returns its predictor."""
    from loopwatch.tasks.tabular.task import TabularSplits, TabularTask
    from loopwatch.training.run import fit_task

    with tempfile.TemporaryDirectory(prefix="lending-ckpt-") as tmp, quiet_fit():
        splits = TabularSplits(spec, {"train": train, "valid": valid}, Path(tmp))
        return fit_task(TabularTask(), splits, params).predictor


@contextmanager
def quiet_fit() -> Iterator[None]:
    """One intra-op thread (an MLP this size gains nothing from two on a shared 2-core CPU,
    and loses a lot when they spin against other processes: ``policing_learned``'s tiny
    tensors fitted 20x slower with the default on a loaded 2-core machine) and no "GPU
    available" banner per fit. Both restored afterwards."""
    import torch

    log = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    level, threads = log.level, torch.get_num_threads()
    log.setLevel(logging.WARNING)
    torch.set_num_threads(1)
    try:
        with warnings.catch_warnings():
            # lightning 2.6 on torch 2.13 warns on its own use of LeafSpec, once per fit.
            warnings.filterwarnings("ignore", message=".*LeafSpec.*")
            yield
    finally:
        torch.set_num_threads(threads)
        log.setLevel(level)


def serve_generation(store, predictor, spec, applicants: pd.DataFrame, policy, model_name: str,
                     generation: int, rng: np.random.Generator,
                     sensitive: tuple[str, ...]) -> tuple[lending.Outcomes, list[str]]:
    """Score, decide and log one generation; attach the outcomes the decisions reveal.
    Returns them and the applicants' prediction ids (in applicant order)."""
    from loopwatch.serving.rows import build_rows

    inputs = applicants[list(spec.inputs)]
    proba = np.asarray(predictor.predict_proba(inputs), dtype=np.float64)
    decisions = policy.decide(proba[:, -1], rng)
    sens = [c for c in sensitive if c in applicants.columns]
    scored_at = START + timedelta(days=generation, hours=12)
    rows, items = build_rows(
        model_name=model_name, model_version=str(generation), classes=spec.classes,
        inputs=_records(inputs), sensitive=_records(applicants[sens]) if sens else [],
        proba=proba, decisions=decisions, policy=policy, source="simulation",
        request_id=f"{model_name}-g{generation}", now=scored_at)
    store.write_predictions(rows)
    outcomes = lending.observe_outcomes(applicants, pd.DataFrame(items), generation, 0,
                                        target=spec.target, approve=policy.actions[1])
    # Outcomes are known before the next retraining: they arrive the same simulated evening.
    arrived = scored_at + timedelta(hours=11)
    store.add_feedback(feedback.feedback_items(outcomes.feedback, arrived_at=arrived), now=arrived)
    return outcomes, [item["prediction_id"] for item in items]


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts with None for missing values (JSON null in the log, not NaN)."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def run_arm(data: LendingData, config: LendingLoopConfig, arm: Arm, log_dir: Path,
            first_model: Any, seed_train: pd.DataFrame, valid: pd.DataFrame,
            reference: pd.DataFrame, fit: Callable[..., Any] = fit_model) -> ArmRun:
    """``config.generations`` generations of one arm; model g serves generation g.
    ``fit(spec, train, valid, train_params)`` returns a predictor (``predict_proba``)."""
    from loopwatch.serving.log_store import LogStore
    from loopwatch.serving.policy import DecisionPolicy

    spec = data.spec
    store = LogStore(f"sqlite:///{log_dir / f'{arm.name}.db'}")
    model_name = f"lending-{arm.name}"
    policy = DecisionPolicy(threshold=config.threshold, epsilon=arm.epsilon,
                            actions=("deny", feedback.APPROVE))
    params = config.train_params(arm.ips)
    run = ArmRun(arm, store, model_name, pd.Series(dtype=object), [], [])
    predictor, revealed, truths = first_model, [], []
    for gen in range(config.generations):
        run.reference_scores.append(predictor.predict_proba(reference)[:, -1].astype(np.float64))
        applicants = day_traffic(data.applicant_pool, gen, config.applicants, NO_DRIFT,
                                 day_rng(config.seed, gen))
        outcomes, ids = serve_generation(store, predictor, spec, applicants, policy, model_name,
                                         gen, day_rng(config.seed + DECISION_STREAM, gen),
                                         spec.sensitive)
        truths.append(pd.Series(applicants[spec.target].to_numpy(), index=ids))
        revealed.append(outcomes.rows)
        train = feedback.retraining_rows(seed_train, pd.concat(revealed, ignore_index=True))
        run.training_sets.append(train)
        run.extras.append({"seed_rows": float(len(seed_train)),
                           "revealed_rows": float(len(train) - len(seed_train))})
        if gen < config.generations - 1:  # the last generation's retraining would serve nobody
            predictor = fit(spec, train, valid, params)
    run.truth = pd.concat(truths)
    return run


def simulate_lending(data: LendingData, config: LendingLoopConfig, log_dir: Path,
                     arms: tuple[Arm, ...] | None = None,
                     fit: Callable[..., Any] = fit_model) -> dict[str, ArmRun]:
    """Every arm from the same generation-0 model; their logs under ``log_dir``. ``fit`` as
    in ``run_arm`` (tests pass a cheap one)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    for old in log_dir.glob("*.db*"):  # a re-run starts from an empty log
        old.unlink()
    arms = arms if arms is not None else default_arms(config.epsilon)
    rng = np.random.default_rng(config.seed)
    seed_train = pick_rows(data.organic_train, config.seed_rows, rng)
    valid = pick_rows(data.organic_valid, config.valid_rows, rng)
    reference = pick_rows(data.applicant_pool, config.reference_rows, rng)
    # Organic rows get no IPS weight, so one fit serves every arm's generation 0.
    first = fit(data.spec, seed_train, valid, config.train_params(False))
    return {arm.name: run_arm(data, replace(config, epsilon=arm.epsilon), arm, log_dir, first,
                              seed_train, valid, reference, fit) for arm in arms}
