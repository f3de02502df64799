"""The closed loop's steps, each a function of the settings and the day.

The Prefect flows in ``flows/`` call these and nothing else: score a day, monitor
it, retrain a challenger and gate it, record the day. Each step reads what it needs
from the stores (MLflow registry, prediction log, DVC-versioned ``data/``, the
scenario state), so any step can be re-run alone after a crash.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from loopwatch.config import Settings
from loopwatch.simulation.scenario import state as st
from loopwatch.simulation.scenario.day import deliver_labels, serve_day
from loopwatch.simulation.scenario.params import ScenarioParams
from loopwatch.simulation.scenario.world import day_end, day_start, load_world, scenario_dir
from loopwatch.tasks.tabular.params import TabularParams, prepared_dir


@dataclass
class ScoredDay:
    day: int
    labels_arrived: int
    served: dict


@dataclass
class MonitoredDay:
    day: int | None  # None: a wall-clock window
    model_version: str
    drift_share: float
    drifted_columns: list[str]
    observed_accuracy: float | None
    gaps: dict[str, float | None]
    action: str
    reasons: list[str]
    report: str
    run_id: str
    rows: int


def load_state(settings: Settings) -> st.ScenarioState:
    return st.ScenarioState.load(st.state_path(scenario_dir(settings)))


def _registered_champion(settings: Settings):
    """(MLflow client, model name, the model version its champion alias points to or None)."""
    from loopwatch.training.registry import current_champion
    from loopwatch.training.tracking import configure

    name = TabularParams.from_settings(settings).model_name
    client = configure(settings)
    return client, name, current_champion(client, name)


def has_champion(settings: Settings) -> bool:
    """A champion is registered and the prepared splits the scenario draws from exist."""
    if not (prepared_dir(settings) / "spec.json").exists():
        return False
    return _registered_champion(settings)[2] is not None


def _champion(settings: Settings):
    from loopwatch.tasks.tabular.champion import load_version
    from loopwatch.training.registry import CHAMPION

    _, name, mv = _registered_champion(settings)
    if mv is None:
        raise LookupError(f"no '{CHAMPION}' alias on {name!r}: run the train flow first")
    return load_version(settings.tracking_uri, name, str(mv.version), alias=CHAMPION)


def score_day(settings: Settings, day: int) -> ScoredDay:
    """Deliver the outcomes due today, then score today's applicants with the champion."""
    from loopwatch.serving.log_store import LogStore

    world = load_world(settings)
    store = LogStore(settings.prediction_log_url)
    try:
        arrived = deliver_labels(settings, store, day, world.spec.target)
        served = serve_day(settings, world, _champion(settings), store, day)
    finally:
        store.close()
    return ScoredDay(day, arrived, asdict(served))


def monitor_day(settings: Settings, day: int) -> MonitoredDay:
    """The monitoring run of ``day``'s window (scenario calendar) and the policy's decision."""
    from loopwatch.tasks.tabular.monitor import monitor_window

    return _monitored(day, monitor_window(settings, "1d",
                                          end=day_end(ScenarioParams.from_settings(settings), day)))


def monitor_recent(settings: Settings, window: str) -> MonitoredDay:
    """The last ``window`` of wall-clock time (deployments monitor live traffic)."""
    from loopwatch.tasks.tabular.monitor import monitor_window

    return _monitored(None, monitor_window(settings, window))


def _monitored(day: int | None, outcome) -> MonitoredDay:
    r = outcome.result
    gaps = {f"{f.attribute}:{g.name}": g.value for f in r.fairness for g in f.gaps.values()}
    return MonitoredDay(day, str(r.model_version), r.drift.share,
                        [c.column for c in r.drift.columns if c.drifted],
                        None if r.quality is None else r.quality.accuracy, gaps,
                        outcome.decision.action, list(outcome.decision.reasons),
                        str(outcome.report), outcome.mlflow_run_id, outcome.rows)


def apply_dashboards(settings: Settings) -> int:
    """The panels of ``dashboards/*.py`` on the model's Evidently project (0: none defined)."""
    from loopwatch.tasks.tabular.monitor import apply_dashboards as apply

    if not (settings.root / "dashboards").is_dir():
        return 0
    return apply(settings)


def record_initial_generation(settings: Settings) -> st.GenerationRecord:
    """Generation 0 (the model the train flow registered) into the scenario state."""
    from loopwatch.training.tracking import TAG_DATA

    state = load_state(settings)
    if state.generations:
        return state.generations[0]
    client, name, mv = _registered_champion(settings)
    if mv is None:
        raise LookupError(f"no champion of {name!r} to start the loop from: run the train flow")
    run = client.get_run(mv.run_id)
    record = st.GenerationRecord(
        generation=0, model_version=str(mv.version), run_id=mv.run_id,
        data_version=run.data.tags.get(TAG_DATA, "untracked"), day=None, trigger="initial",
        rows={"organic": int(run.data.metrics.get("rows.train", 0))},
        metrics={k: v for k, v in run.data.metrics.items() if k.startswith("test_")},
        promoted=True, gate_reasons=["the first model"], champion_after=str(mv.version))
    state.generations.append(record)
    state.save(st.state_path(scenario_dir(settings)))
    return record


def version_data(settings: Settings) -> str:
    """``dvc add data`` (the feedback rows are in data/feedback/) and push: the new hash."""
    from loopwatch.data import versioning

    return versioning.version_and_push(settings.root, settings.dvc_remote_dir).md5


def retrain(settings: Settings, day: int, reason: str) -> st.GenerationRecord:
    """Train a challenger on the newest data version and put it through the gate."""
    import numpy as np
    import pandas as pd

    from loopwatch.feedback import read_feedback_rows, retraining_rows
    from loopwatch.monitoring.window import TAG_REFERENCE_WINDOW
    from loopwatch.tasks.tabular.gate import gate_and_promote
    from loopwatch.tasks.tabular.pipeline import train_logged
    from loopwatch.training.registry import register_challenger
    from loopwatch.training.tracking import configure

    params = ScenarioParams.from_settings(settings)
    world = load_world(settings)
    state = load_state(settings)
    generation = max((g.generation for g in state.generations), default=0) + 1
    version_data(settings)
    feedback = read_feedback_rows(settings.data_dir, up_to_day=day)
    order = np.random.default_rng([params.seed, day]).permutation(len(feedback))
    n_valid = int(round(len(feedback) * params.retrain_valid_fraction))
    fb_valid, fb_train = feedback.iloc[order[:n_valid]], feedback.iloc[order[n_valid:]]
    train = retraining_rows(world.organic_train, fb_train)
    valid = pd.concat([world.organic_valid, fb_valid[list(world.organic_valid.columns)]],
                      ignore_index=True)
    windows = settings.params.monitoring.consecutive_windows
    ref_start = day_start(params, max(0, day - windows + 1))
    tags = {"loopwatch.generation": str(generation), "loopwatch.trigger": reason[:5000],
            "loopwatch.trigger_day": str(day),
            TAG_REFERENCE_WINDOW: f"{ref_start.isoformat()}/{day_end(params, day).isoformat()}"}
    train_params = TabularParams.from_settings(
        settings, ips_weighting=params.retrain_ips_weighting, enable_progress_bar=False)
    name = train_params.model_name
    trained = train_logged(settings, world.spec, train, valid, run_name=f"retrain-g{generation}",
                           stage="retrain", train_params=train_params, tags=tags)
    client = configure(settings)
    version = register_challenger(client, name, trained)
    outcome = gate_and_promote(settings, client, name, version, world.gate_holdout(day),
                               world.spec)
    from loopwatch.feedback import rows_by_origin

    return st.GenerationRecord(
        generation=generation, model_version=version, run_id=trained.run_id,
        data_version=trained.data_version, day=day, trigger=reason,
        rows=rows_by_origin(train), metrics={
            "gate_challenger_accuracy": outcome.table["accuracy"]["challenger"],
            **({"gate_champion_accuracy": outcome.table["accuracy"]["champion"]}
               if "accuracy" in outcome.table else {})},
        promoted=outcome.promote, gate_reasons=outcome.reasons, gate_table=outcome.table,
        champion_after=outcome.champion_after)


def record_day(settings: Settings, scored: ScoredDay, monitored: MonitoredDay,
               generation: st.GenerationRecord | None) -> st.DayRecord:
    """Write the day (and the generation a retrain produced) to the scenario state."""
    params = ScenarioParams.from_settings(settings)
    served = scored.served
    state = load_state(settings)
    if generation is not None:
        state.generations = [g for g in state.generations
                             if g.generation != generation.generation] + [generation]
    record = st.DayRecord(
        day=scored.day, date=day_start(params, scored.day).date(),
        model_version=served["model_version"], applicants=served["applicants"],
        approved=served["approved"], explored=served["explored"],
        labels_arrived=scored.labels_arrived,
        drift_on=params.drift_schedule().active(scored.day), drift_share=monitored.drift_share,
        drifted_columns=monitored.drifted_columns, accuracy=served["accuracy"],
        observed_accuracy=monitored.observed_accuracy, gaps=monitored.gaps,
        action=monitored.action, reasons=monitored.reasons, report=monitored.report,
        monitor_run_id=monitored.run_id,
        generation=None if generation is None else generation.generation)
    state.record_day(record)
    state.save(st.state_path(scenario_dir(settings)))
    return record
