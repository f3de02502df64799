"""Named simulator experiments: run, plot, summarise, and log to MLflow.

What `loopwatch simulate policing|attention|policing-loop|policing-learned|lending` runs. Each
experiment returns a report (params, headline metrics, figure paths) that the CLI prints and
that ``log_report`` stores as an MLflow run, so a loop's picture sits next to the training
runs it warns about. The retraining worlds can also store one Evidently snapshot per
generation in the workspace's "feedback-loop" project (``workspace=`` a workspace path).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from loopwatch.simulation.attention import AttentionConfig, paper_agents, sweep_dynamic_rate
from loopwatch.simulation.plots import plot_attention_delta, plot_urn_share
from loopwatch.simulation.policing import UrnConfig, simulate_urn, stable_point

EXPERIMENT = "loopwatch-simulations"


@dataclass
class ChildRun:
    """A nested MLflow run under the experiment's run, e.g. one retraining generation."""

    name: str
    params: dict[str, Any]
    metrics: dict[str, float]
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class ExperimentReport:
    name: str
    params: dict[str, Any]
    metrics: dict[str, float]
    figures: list[Path] = field(default_factory=list)
    # Per-step series (e.g. one row per retraining generation), logged with step = row.
    series: dict[str, Any] = field(default_factory=dict)
    children: list[ChildRun] = field(default_factory=list)

    def lines(self) -> list[str]:
        width = max(len(k) for k in self.metrics)
        return [f"{k:<{width}}  {v:.4f}" for k, v in self.metrics.items()]


FIXES = {"min-ratio": "min_ratio", "one-minus-p": "one_minus_p", "none": None}


def policing(out_dir: Path, rates: tuple[float, ...] = (0.3, 0.2),
             prior: tuple[float, ...] = (1.0, 1.0), days: int = 10_000, runs: int = 1000,
             poisson: bool = False, decay: float = 1.0, seed: int = 0,
             fix: str = "min-ratio") -> ExperimentReport:
    """The Ensign et al. urn for any number of districts: no fix, and beside it ``fix``
    (the inverse-propensity ``min-ratio`` rule, the paper's ``one-minus-p``, or ``none``)."""
    if fix not in FIXES:
        raise ValueError(f"unknown fix {fix!r}: choose {', '.join(FIXES)}")
    base = UrnConfig(rates=tuple(rates), prior=tuple(prior), days=days, runs=runs,
                     poisson=poisson, decay=decay, seed=seed)
    results = {"no fix": simulate_urn(base, log_points=60)}
    if FIXES[fix]:
        results[f"{fix} fix"] = simulate_urn(replace(base, fix=FIXES[fix]), log_points=60)
    no_fix, truth = results["no fix"], stable_point(base.rates)
    metrics: dict[str, float] = {}
    for i, district in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ"[:base.k]):
        metrics |= {
            f"truth_share_{district}": float(truth[i]),
            f"share_{district}_no_fix_mean": float(no_fix.final_shares[:, i].mean()),
            f"share_{district}_no_fix_p_gt_0.95": float((no_fix.final_shares[:, i] > 0.95).mean()),
            f"naive_estimate_{district}": float(np.nanmean(no_fix.naive_share()[:, i])),
            f"ips_estimate_{district}": float(np.nanmean(no_fix.ips_share()[:, i])),
        }
        if FIXES[fix]:
            fixed = results[f"{fix} fix"].final_shares[:, i]
            metrics[f"share_{district}_fix_mean"] = float(fixed.mean())
    out_dir.mkdir(parents=True, exist_ok=True)
    figure = plot_urn_share(results, out_dir / "policing_share.png")
    params = {"rates": list(rates), "prior": list(prior), "days": days, "runs": runs,
              "poisson": poisson, "decay": decay, "seed": seed, "fix": fix}
    return ExperimentReport("policing", params, metrics, [figure])


def attention(out_dir: Path, runs: int = 20, steps: int = 1000,
              dynamic_rates: tuple[float, ...] = (0.0, 0.01, 0.05),
              seed: int = 0) -> ExperimentReport:
    """D'Amour et al.'s attention allocation: Delta per agent as the dynamics strengthen."""
    config = AttentionConfig(runs=runs, steps=steps, seed=seed)
    sweep = sweep_dynamic_rate(config, paper_agents(), dynamic_rates)
    metrics = {
        f"delta[{agent}][d={d}]": float(result.delta())
        for agent, by_d in sweep.items()
        for d, result in by_d.items()
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    figure = plot_attention_delta(sweep, out_dir / "attention_delta.png")
    params = {"runs": runs, "steps": steps, "dynamic_rates": list(dynamic_rates),
              "rates": list(config.rates), "units": config.units, "seed": seed}
    return ExperimentReport("attention", params, metrics, [figure])


def policing_loop(out_dir: Path, generations: int = 12, decisions: int = 2000,
                  epsilon: float = 0.1, seed: int = 0, workspace: Path | None = None,
                  dashboards: Path | None = None) -> ExperimentReport:
    """A retrained, logging policing model with and without IPS-weighted retraining, and
    what the feedback-loop detector says about each. With ``workspace``, one Evidently
    snapshot per generation and variant; with ``dashboards`` (the dashboards/ folder) too,
    the feedback-loop panels."""
    from loopwatch.monitoring.feedback_loop import detect_loop
    from loopwatch.simulation.plots import plot_logged_loop
    from loopwatch.simulation.policing_log import LoggedLoopConfig, simulate_logged_loop

    base = LoggedLoopConfig(generations=generations, decisions=decisions, epsilon=epsilon,
                            seed=seed)
    loops = {"naive retraining": simulate_logged_loop(base),
             "IPS-weighted retraining": simulate_logged_loop(replace(base, ips=True))}
    truth = float(stable_point(base.rates)[0])
    metrics: dict[str, float] = {"truth_share_A": truth}
    for key, loop in (("naive", loops["naive retraining"]),
                      ("ips", loops["IPS-weighted retraining"])):
        model_share = (loop.allocations[-1][0] - epsilon / 2) / (1 - epsilon)
        metrics[f"{key}_final_model_share_A"] = float(model_share)
        metrics[f"{key}_final_naive_ips_gap"] = float(loop.metrics["naive_ips_gap"].iloc[-1])
        metrics[f"{key}_loop_suspected"] = float(detect_loop(loop.metrics).suspected)
    out_dir.mkdir(parents=True, exist_ok=True)
    figure = plot_logged_loop(loops, truth, epsilon, out_dir / "policing_loop.png")
    params = {"rates": list(base.rates), "generations": generations, "decisions": decisions,
              "epsilon": epsilon, "seed": seed}
    series = {"naive": loops["naive retraining"].metrics,
              "ips": loops["IPS-weighted retraining"].metrics}
    if workspace is not None:
        params["evidently_snapshots"] = _snapshot(
            workspace, dashboards, "policing-loop", dict(zip(series, loops.values(), strict=True)),
            len(base.rates), stable_point(base.rates))
    return ExperimentReport("policing-loop", params, metrics, [figure], series)


def policing_learned(out_dir: Path, generations: int = 8, decisions: int = 2000,
                     epsilon: float = 0.1, window: int = 2, steps: int = 150, seed: int = 0,
                     workspace: Path | None = None,
                     dashboards: Path | None = None) -> ExperimentReport:
    """A learned (Lightning, Poisson NLL) policing model retrained on its own patrols, naive
    and with the IPS-weighted loss; one nested MLflow run per generation and variant holds
    its lineage. ``workspace``/``dashboards`` as in ``policing_loop``."""
    from loopwatch.monitoring.feedback_loop import detect_loop
    from loopwatch.simulation.plots import plot_learned_loop
    from loopwatch.simulation.policing_learned import (
        LearnedLoopConfig,
        naive_stable_point,
        simulate_learned_loop,
    )

    base = LearnedLoopConfig(generations=generations, decisions=decisions, epsilon=epsilon,
                             window=window, steps=steps, seed=seed)
    loops = {"naive": simulate_learned_loop(base),
             "ips": simulate_learned_loop(replace(base, ips=True))}
    truth = stable_point(base.rates)
    stable = float(naive_stable_point(base.rates, epsilon)[0])
    metrics: dict[str, float] = {"truth_share_A": float(truth[0]),
                                 "naive_stable_point_A": stable}
    children = []
    for key, loop in loops.items():
        first, last = loop.lineage.iloc[0], loop.lineage.iloc[-1]
        metrics[f"{key}_first_patrol_share_A"] = float(first["patrol_share_A"])
        metrics[f"{key}_final_patrol_share_A"] = float(last["patrol_share_A"])
        metrics[f"{key}_final_model_share_A"] = float(last["model_share_A"])
        metrics[f"{key}_final_share_se"] = loop.share_se
        metrics[f"{key}_final_naive_ips_gap"] = float(loop.metrics["naive_ips_gap"].iloc[-1])
        metrics[f"{key}_loop_suspected"] = float(detect_loop(loop.metrics).suspected)
        children += [_generation_run(key, row) for row in loop.lineage.to_dict("records")]
    out_dir.mkdir(parents=True, exist_ok=True)
    figure = plot_learned_loop({"naive retraining": loops["naive"],
                                "IPS-weighted retraining": loops["ips"]},
                               float(truth[0]), stable, epsilon, out_dir / "policing_learned.png")
    params = {"rates": list(base.rates), "generations": generations, "decisions": decisions,
              "epsilon": epsilon, "window": window, "steps": steps, "clip": base.clip,
              "model": "DistrictRateModel (Poisson NLL, one-hot districts)", "seed": seed}
    series = {key: loop.metrics.join(loop.lineage.set_index("generation").select_dtypes("number"))
              for key, loop in loops.items()}
    if workspace is not None:
        params["evidently_snapshots"] = _snapshot(workspace, dashboards, "policing-learned",
                                                  loops, len(base.rates), truth)
    return ExperimentReport("policing-learned", params, metrics, [figure], series, children)


def lending(out_dir: Path, data: Any, generations: int = 6, applicants: int = 3000,
            seed_rows: int = 2000, epsilon: float = 0.1, max_epochs: int = 5, seed: int = 0,
            workspace: Path | None = None, dashboards: Path | None = None) -> ExperimentReport:
    """The selective-labels lending loop on Adult (``simulation.lending_loop``): a Lightning
    model retrained on the outcomes its approvals revealed, naive / IPS-weighted / without
    exploration, every decision in a real prediction log under ``out_dir``; the metrics are
    read back from that log. ``data``: a ``LendingData`` or ``scenario.world.World``.
    ``workspace``/``dashboards`` as in ``policing_loop``."""
    from loopwatch.monitoring.feedback_loop import detect_loop
    from loopwatch.simulation.lending_loop import LendingLoopConfig, simulate_lending
    from loopwatch.simulation.lending_loop_metrics import arm_history, record_snapshots
    from loopwatch.simulation.plots import plot_lending_loop

    config = LendingLoopConfig(generations=generations, applicants=applicants,
                               seed_rows=seed_rows, epsilon=epsilon, max_epochs=max_epochs,
                               seed=seed)
    log_dir = out_dir / "lending_logs"
    runs = simulate_lending(data, config, log_dir)
    try:
        histories = {arm: arm_history(run, data.spec, config.group, config.n_boot, seed)
                     for arm, run in runs.items()}
    finally:
        for run in runs.values():
            run.store.close()
    metrics: dict[str, float] = {"truth_rate": float(next(iter(histories.values()))
                                                     ["true_rate"].mean())}
    children = []
    for arm, h in histories.items():
        first, last = h.iloc[0], h.iloc[-1]
        metrics |= {f"{arm}_{k}": float(last[k]) for k in (
            "rho", "naive_rate", "snips_rate", "snips_rate_se", "true_accuracy",
            "observed_accuracy", "ips_accuracy", "approval_rate", "dp_gap", "disparate_impact")}
        metrics[f"{arm}_first_approval_rate"] = float(first["approval_rate"])
        metrics |= {f"{arm}_final_{c}": float(last[c]) for c in h.columns
                    if c.startswith("approval_rate.")}
        # The largest miss of each estimate over the generations, in its own standard errors.
        metrics[f"{arm}_max_snips_z"] = float(((h["snips_rate"] - h["true_rate"]).abs()
                                               / h["snips_rate_se"]).max())
        metrics[f"{arm}_min_naive_bias"] = float((h["naive_rate"] - h["true_rate"]).min())
        metrics[f"{arm}_loop_suspected"] = float(detect_loop(h).suspected)
        arm_cfg = runs[arm].arm
        children += [ChildRun(
            name=f"{arm}-generation-{gen}",
            params={"arm": arm, "generation": gen, "model_version": gen, "ips": arm_cfg.ips,
                    "epsilon": arm_cfg.epsilon, "train_rows": int(row["train_rows"]),
                    "seed_rows": int(row["seed_rows"]), "revealed_rows": int(row["revealed_rows"])},
            metrics={k: float(v) for k, v in row.items() if v == v},
            tags={"loopwatch.stage": "simulate-lending-generation", "loopwatch.variant": arm,
                  "loopwatch.generation": str(gen)})
            for gen, row in h.iterrows()]
    out_dir.mkdir(parents=True, exist_ok=True)
    figure = plot_lending_loop(histories, out_dir / "lending_loop.png")
    params = {"generations": generations, "applicants": applicants, "seed_rows": seed_rows,
              "epsilon": epsilon, "threshold": config.threshold, "max_epochs": max_epochs,
              "layers": list(config.layers), "clip": config.clip, "arms": list(runs),
              "prediction_logs": str(log_dir), "seed": seed}
    if workspace is not None:
        params["evidently_snapshots"] = record_snapshots(workspace, dashboards, runs,
                                                         histories, data, config.group)
    return ExperimentReport("lending", params, metrics, [figure], histories, children)


def _generation_run(variant: str, row: dict[str, Any]) -> ChildRun:
    """A retraining generation's lineage: what it was trained on, and what it learnt."""
    gen = int(row["generation"])
    lineage = ("generation", "trained_on", "train_rows", "train_labels")
    return ChildRun(
        name=f"{variant}-generation-{gen}",
        params={k: row[k] for k in lineage} | {"variant": variant},
        metrics={k: float(v) for k, v in row.items() if k not in lineage},
        tags={"loopwatch.stage": "simulate-policing-learned-generation",
              "loopwatch.variant": variant, "loopwatch.generation": str(gen)})


def _snapshot(workspace: Path, dashboards: Path | None, world: str, loops: dict[str, Any],
              k: int, truth: np.ndarray) -> int:
    """Each loop's log rows as per-generation snapshots; how many were written."""
    from loopwatch.monitoring.loop_snapshots import record_loops

    ids = record_loops(workspace, world, {v: loop.rows for v, loop in loops.items()},
                       list(range(k)), truth, dashboards)
    return sum(len(v) for v in ids.values())


def log_report(report: ExperimentReport, tracking_uri: str, artifact_root: Path) -> str:
    """One MLflow run per experiment: params, metrics and the figures; returns its id."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    if mlflow.get_experiment_by_name(EXPERIMENT) is None:
        mlflow.create_experiment(EXPERIMENT,
                                 artifact_location=(artifact_root / EXPERIMENT).as_uri())
    mlflow.set_experiment(EXPERIMENT)
    # MLflow metric names allow only alphanumerics and _-. /: map the rest to "_".
    safe = {_metric_name(k): v for k, v in report.metrics.items()}
    with mlflow.start_run(run_name=f"simulate-{report.name}") as run:
        mlflow.set_tag("loopwatch.stage", f"simulate-{report.name}")
        mlflow.log_params({k: str(v) for k, v in report.params.items()})
        mlflow.log_metrics(safe)
        for prefix, frame in report.series.items():  # one step per generation
            for step, row in enumerate(frame.to_dict("records")):
                mlflow.log_metrics({_metric_name(f"{prefix}.{k}"): float(v)
                                    for k, v in row.items() if v == v}, step=step)
        for figure in report.figures:
            mlflow.log_artifact(str(figure), artifact_path="figures")
        for child in report.children:
            with mlflow.start_run(run_name=child.name, nested=True):
                mlflow.set_tags(child.tags)
                mlflow.log_params({k: str(v) for k, v in child.params.items()})
                mlflow.log_metrics({_metric_name(k): v for k, v in child.metrics.items()})
    return run.info.run_id


def _metric_name(key: str) -> str:
    return "".join(c if c.isalnum() or c in "_-. /" else "_" for c in key).strip("_")
