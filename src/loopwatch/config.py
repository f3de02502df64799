"""Typed settings: where state lives and what each stage is parameterised by.

Settings come from ``params.yaml`` (what DVC tracks) plus a few environment
variables for the places that differ per machine (``LOOPWATCH_STATE_DIR``,
``LOOPWATCH_TRACKING_URI``). Nothing here touches the disk at import time.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

# Sections that moved: each old key, where its settings live now.
MOVED = {
    "data": "tasks.tabular",  # its `seed` is now `split_seed`
    "train": "tasks.tabular",
    "images": "tasks.images",
    "recsys": "tasks.recsys",
    "registry.model_name": "tasks.<task>.model_name",
    "tasks.images.epochs": "tasks.images.max_epochs",
    "serving.epsilon": "tasks.<task>.epsilon",
    "monitoring.effect_size_floor": "monitoring.drift_floor",
    "monitoring.fdr_correction": "monitoring.drift_alpha (Benjamini-Hochberg is always on)",
    "monitoring.small_reference_sample_rows": "monitoring.sketch_bins (every slice is sketched)",
}


class RegistryParams(BaseModel):
    """How every task's registry promotes on ``register`` (the model name is per task)."""

    model_config = ConfigDict(extra="forbid")
    metric: str = "test_accuracy"
    min_delta: float = 0.0


class ServingParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    threshold: float = Field(0.5, gt=0, lt=1)  # decision policy: act when P(positive) >= this
    max_batch_rows: int = Field(1000, ge=1)
    max_body_bytes: int = Field(2_000_000, ge=1024)
    reload_interval_s: float = Field(5.0, gt=0)  # how often the champion alias is re-checked
    # With LOOPWATCH_API_TOKEN set, /predict* needs the token too (labels and reloads always do).
    auth_predict: bool = False
    allowed_hosts: list[str] = Field(default_factory=list)  # Host names besides this machine's


class MonitoringParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    window: str = "1d"  # how much of the prediction log one monitoring run reads

    # --- drift (monitoring/calibrated.py) ---------------------------------------------------
    # A column drifts when its test is significant at `drift_alpha` after Benjamini-Hochberg
    # across the slice's columns AND its effect (normed Wasserstein / Jensen-Shannon) reaches
    # `drift_floor`. Where nothing changed, a column, and any column of a slice, alarms with
    # probability <= drift_alpha, at every window and group size.
    drift_alpha: float = Field(0.05, gt=0, lt=0.5)
    drift_floor: float = Field(0.1, ge=0)  # Evidently's large-sample distance threshold
    drift_share: float = Field(0.5, gt=0, le=1)  # dataset drift when >= this share of columns drift
    # Evidently's own report, shown beside our verdicts: None = its default test for the
    # reference size (<=1000 rows: KS / chi2 / Z p-values; more: normed Wasserstein / Jensen-
    # Shannon), or any Evidently stattest name; None threshold = the method's default.
    num_method: str | None = None
    cat_method: str | None = None
    drift_threshold: float | None = None

    # --- group fairness -------------------------------------------------------------------
    min_group_size: int = Field(50, ge=1)  # smaller groups are reported as too small, not scored
    n_boot: int = Field(1000, ge=50)  # bootstrap resamples for the 95% intervals
    ci_level: float = Field(0.95, gt=0.5, lt=1)
    seed: int = 0

    # --- retraining policy ----------------------------------------------------------------
    retrain_drift_share: float = Field(0.5, gt=0, le=1)  # policy threshold on the drift share
    max_accuracy_drop: float = Field(0.05, gt=0, lt=1)  # vs the model version's test accuracy
    max_fairness_gap: float = Field(0.10, gt=0, lt=1)  # demographic-parity / equal-opportunity
    # the four-fifths rule; None: not a retraining condition (DI is still reported)
    min_disparate_impact: float | None = Field(0.8, gt=0, le=1)
    min_labelled_rows: int = Field(200, ge=1)  # quality and label-based fairness need this many
    consecutive_windows: int = Field(2, ge=1)  # a breach must persist this long to act
    hysteresis: float = Field(0.8, gt=0, le=1)  # an active breach clears below this x threshold
    cooldown_hours: float = Field(72.0, ge=0)  # no second retrain this soon after one

    # --- scale -----------------------------------------------------------------------------
    stream_above_rows: int = Field(200_000, ge=1)  # larger windows take the chunked path
    chunk_rows: int = Field(100_000, ge=1_000)
    sketch_bins: int = Field(2_000, ge=50)  # reference-quantile bins of the Wasserstein sketch
    report_sample_rows: int = Field(50_000, ge=1_000)  # stream: quality + Evidently HTML sample


class GateParams(BaseModel):
    """Champion/challenger gate: both judged on the same fresh holdout."""

    model_config = ConfigDict(extra="forbid")
    accuracy_tolerance: float = Field(0.01, ge=0, lt=1)  # challenger may be this much less accurate
    fairness_tolerance: float = Field(0.02, ge=0, lt=1)  # ... and this much worse on any gap
    disparate_impact_floor: float | None = Field(None, gt=0, le=1)  # off: Adult sits below 0.8
    # Paired-bootstrap resamples (training/gate_noise.py): a breach refuses only when it is
    # significant at `noise_level`; 0 judges point estimates alone.
    n_boot: int = Field(300, ge=0)
    noise_level: float = Field(0.95, gt=0.5, lt=1)


class DeployParams(BaseModel):
    """Cron schedules of `loopwatch deploy` (Prefect deployments, for a Prefect server)."""

    model_config = ConfigDict(extra="forbid")
    monitor_cron: str = "0 * * * *"  # hourly: monitor the last hour, report and alert only
    monitor_window: str = "1h"
    retrain_check_cron: str = "30 2 * * *"  # daily: monitor the last day; retrain if told to
    retrain_check_window: str = "1d"
    recommender_monitor_cron: str = "0 3 * * *"  # daily: the served recommender's loop
    recommender_monitor_window: str = "1d"
    timezone: str = "UTC"


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Each task's own block, validated by the task (config imports none of them).
    tasks: dict[str, dict[str, Any]] = Field(default_factory=dict)
    registry: RegistryParams = Field(default_factory=RegistryParams)
    serving: ServingParams = Field(default_factory=ServingParams)
    monitoring: MonitoringParams = Field(default_factory=MonitoringParams)
    gate: GateParams = Field(default_factory=GateParams)
    # The built-in closed loop's world, validated by loopwatch.simulation.scenario when it runs.
    scenario: dict[str, Any] = Field(default_factory=dict)
    deploy: DeployParams = Field(default_factory=DeployParams)

    def digest(self) -> str:
        """A short stable hash of the params, logged as a lineage tag."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


class ConfigError(ValueError):
    """A settings file or variable is wrong; the message names the field and the fix."""


class SectionParams(BaseModel):
    """A block of params.yaml validated by the layer that reads it (a task, the scenario), so
    this module imports none of them. ``section`` is the block's dotted path."""

    model_config = ConfigDict(extra="forbid")
    section: ClassVar[str] = ""

    @classmethod
    def from_settings(cls, settings: Settings, **updates: Any) -> Any:
        """The block, validated, with ``updates`` on top; errors name ``<section>.<key>``."""
        raw: Any = settings.params.model_dump()
        for part in cls.section.split("."):
            raw = raw.get(part) if isinstance(raw, Mapping) else None
        try:
            return cls.model_validate({**(raw or {}), **updates})
        except ValidationError as exc:
            raise ConfigError(explain_fields(exc, cls.section)) from exc


def explain_fields(exc: ValidationError, prefix: str) -> str:
    """One clause per wrong field, each naming where it lives and the fix (one line)."""
    clauses = []
    for err in exc.errors():
        field = ".".join([prefix, *(str(p) for p in err["loc"])])
        if err["type"] == "extra_forbidden":
            clauses.append(f"{field}: unknown setting; remove it from params.yaml")
        else:
            clauses.append(f"{field}: {err['msg']} (got {err.get('input')!r}); fix it in "
                           "params.yaml")
    return "; ".join(clauses)


class Settings(BaseModel):
    """Paths and URIs of one project checkout. All generated state lives under ``state_dir``."""

    model_config = ConfigDict(extra="forbid")
    root: Path
    state_dir: Path
    tracking_uri: str
    prediction_log_url: str  # SQLAlchemy URL: SQLite (WAL) by default, PostgreSQL for scale
    cache_dir: Path  # downloaded wheels and sources; shareable across checkouts
    experiment: str = "loopwatch"
    params: Params = Field(default_factory=Params)

    # Derived locations: one place decides the layout of the state folder.
    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def raw_dir(self) -> Path:
        return self.data_dir / "raw"

    @property
    def outputs_dir(self) -> Path:
        """DVC stage outputs (prepared splits, the trained run's pointer, metrics)."""
        return self.root / "outputs"

    @property
    def artifact_dir(self) -> Path:
        return self.state_dir / "mlartifacts"

    @property
    def dvc_remote_dir(self) -> Path:
        return self.state_dir / "dvc-remote"

    @property
    def prefect_home(self) -> Path:
        return self.state_dir / "prefect"

    @classmethod
    def load(
        cls,
        root: Path | str | None = None,
        env: Mapping[str, str] | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> Settings:
        """Read ``params.yaml`` under ``root`` (default: the current directory) and the env."""
        env = os.environ if env is None else env
        root = Path(root or env.get("LOOPWATCH_ROOT") or Path.cwd()).resolve()
        params_file = root / "params.yaml"
        raw: dict[str, Any] = {}
        if params_file.exists():
            try:
                raw = yaml.safe_load(params_file.read_text()) or {}
            except yaml.YAMLError as exc:
                raise ConfigError(f"{params_file} is not valid YAML: {exc}") from exc
        for dotted, value in (overrides or {}).items():
            set_dotted(raw, dotted, value)
        refuse_moved(raw, params_file)
        try:
            params = Params.model_validate(raw)
        except ValidationError as exc:
            raise ConfigError(_explain(exc, params_file)) from exc
        state_dir = Path(env.get("LOOPWATCH_STATE_DIR") or root / ".state").resolve()
        tracking_uri = env.get("LOOPWATCH_TRACKING_URI") or f"sqlite:///{state_dir / 'mlflow.db'}"
        cache_dir = Path(env.get("LOOPWATCH_CACHE_DIR") or state_dir / "downloads").resolve()
        log_url = (env.get("LOOPWATCH_PREDICTION_LOG_URL")
                   or f"sqlite:///{state_dir / 'predictions.db'}")
        return cls(root=root, state_dir=state_dir, tracking_uri=tracking_uri,
                   prediction_log_url=log_url, cache_dir=cache_dir, params=params)


def set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    """``tasks.images.max_epochs=1`` sets one nested key, creating the blocks on the way."""
    *path, key = dotted.split(".")
    for part in path:
        node = tree.get(part)
        if not isinstance(node, dict):
            node = tree[part] = {}
        tree = node
    tree[key] = value


def refuse_moved(raw: Mapping[str, Any], source: Path) -> None:
    """An old-style key is one clear line naming where it lives now."""
    for old, new in MOVED.items():
        node: Any = raw
        for part in old.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
        if node is not None:
            new, _, why = new.partition(" (")  # "key (why)": the why goes outside the quotes
            hint = " (`data.seed` is now `split_seed`)" if old == "data" else (
                f" ({why}" if why else "")
            raise ConfigError(f"{source.name}: `{old}` has moved: put these settings under "
                              f"`{new}`{hint}")


def _explain(exc: ValidationError, source: Path) -> str:
    lines = [f"invalid settings in {source}:"]
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"])
        got = err.get("input")
        lines.append(f"  - {field}: {err['msg']} (got {got!r}); fix it in {source.name}")
    return "\n".join(lines)
