"""The closed loop's summary: per day and per generation, as text, a plot and an MLflow run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from loopwatch.config import Settings
from loopwatch.monitoring.fairness import DI, DP
from loopwatch.simulation.scenario.params import ScenarioParams
from loopwatch.simulation.scenario.state import ScenarioState

SUMMARY_RUN = "closed-loop-summary"
DP_KEY, DI_KEY = f"sex:{DP}", f"sex:{DI}"


def _fmt(value: float | None, digits: int = 3) -> str:
    return "  -  " if value is None else f"{value:.{digits}f}"


def format_summary(settings: Settings, state: ScenarioState, first_day: int = 0) -> str:
    p = ScenarioParams.from_settings(settings)
    lines = ["", "== loopwatch: closed loop on the built-in scenario (Adult lending) ==",
             f"drift: {p.drift_kind} (strength {p.drift_strength}) from day {p.drift_start_day}; "
             f"{p.applicants_per_day} applicants/day; exploration ε={p.epsilon}; "
             f"labels after {p.label_delay_days} day(s), only for approved or explored",
             "", "day  date        model  drift?  drift share  accuracy  DP gap(sex)  "
             "DI(sex)  labels in  decision"]
    for d in sorted(state.days, key=lambda r: r.day):
        if d.day < first_day:
            continue
        decision = d.action + (f" -> generation {d.generation}" if d.generation else "")
        drift = "yes" if d.drift_on else "no"
        lines.append(f"{d.day:>3}  {d.date}  v{d.model_version:<5} {drift:<6}"
                     f"  {d.drift_share:>11.2f}  {d.accuracy:>8.3f}  "
                     f"{_fmt(d.gaps.get(DP_KEY)):>11}  {_fmt(d.gaps.get(DI_KEY)):>7}  "
                     f"{d.labels_arrived:>9}  {decision}")
    lines += ["", "gen  day  model  data version (DVC)                    rows by origin"
              "                                   gate"]
    for g in state.generations:
        rows = ", ".join(f"{k} {v}" for k, v in sorted(g.rows.items()))
        verdict = "PROMOTED" if g.promoted else "rejected"
        day = "  -" if g.day is None else f"{g.day:>3}"
        lines.append(f"{g.generation:>3}  {day}  v{g.model_version:<5} {g.data_version:<37} "
                     f"{rows:<48} {verdict}")
        for reason in g.gate_reasons[:4]:
            lines.append(f"{'':>10}gate: {reason}")
    champion = state.champion_generation
    lines += ["", f"champion now: v{champion.model_version} (generation {champion.generation})"
              if champion else "no champion", "", "Look closer:",
              "  MLflow UI:     .venv/bin/loopwatch mlflow-ui    (runs, gate decisions, registry)",
              "  Evidently UI:  .venv/bin/loopwatch ui           (drift dashboards)",
              f"  HTML reports:  {settings.state_dir / 'reports'}/",
              f"  loop plot:     {plot_path(settings)}",
              "  run again to continue from this state; add --fresh to start over"]
    return "\n".join(lines)


def plot_path(settings: Settings) -> Path:
    return settings.state_dir / "reports" / "closed-loop.png"


def plot_days(state: ScenarioState, path: Path, drift_start: int) -> Path:
    """Drift share and accuracy per day, retrains and promotions marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    days = sorted(state.days, key=lambda r: r.day)
    x = [d.day for d in days]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    top.plot(x, [d.drift_share for d in days], "o-", label="drift share (calibrated verdicts)")
    top.axvline(drift_start - 0.5, color="grey", ls="--", label="drift starts")
    top.set_ylabel("share of columns drifted")
    bottom.plot(x, [d.accuracy for d in days], "o-", color="tab:green", label="accuracy")
    bottom.plot(x, [d.gaps.get(DP_KEY) for d in days], "s-", color="tab:red",
                label="demographic-parity gap (sex)")
    for g in state.generations:
        if g.day is not None:
            style = {"color": "tab:purple" if g.promoted else "tab:orange", "alpha": 0.6}
            for ax in (top, bottom):
                ax.axvline(g.day, **style)
            top.annotate(f"g{g.generation} {'promoted' if g.promoted else 'rejected'}",
                         (g.day, top.get_ylim()[1] * 0.9), fontsize=8)
    bottom.set_xlabel("simulated day")
    for ax in (top, bottom):
        ax.legend(fontsize=8, loc="best")
        ax.grid(alpha=0.3)
    fig.suptitle("loopwatch closed loop: drift, retraining and the gate")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def log_summary(settings: Settings, state: ScenarioState) -> str:
    """One MLflow run with per-day metrics (step = day), the plot and the state."""
    import mlflow

    from loopwatch.training.tracking import configure

    configure(settings)
    scenario = ScenarioParams.from_settings(settings)
    png = plot_days(state, plot_path(settings), scenario.drift_start_day)
    with mlflow.start_run(run_name=SUMMARY_RUN) as run:
        mlflow.set_tags({"loopwatch.stage": "closed-loop"})
        mlflow.log_params({f"scenario.{k}": v for k, v in
                           scenario.model_dump(mode="json").items()})
        for d in state.days:
            values: dict[str, Any] = {"drift_share": d.drift_share, "accuracy": d.accuracy,
                                      "approved_share": d.approved / max(d.applicants, 1)}
            values.update({f"gap.{k.replace(':', '.')}": v for k, v in d.gaps.items()
                           if v is not None})
            mlflow.log_metrics(values, step=d.day)
        mlflow.log_metrics({"generations": len(state.generations),
                            "promotions": sum(g.promoted for g in state.generations[1:])})
        mlflow.log_artifact(str(png), "closed-loop")
        mlflow.log_dict(state.model_dump(mode="json"), "closed-loop/state.json")
    return run.info.run_id
