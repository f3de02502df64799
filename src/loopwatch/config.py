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
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from loopwatch.images.params import ImageParams
from loopwatch.monitoring.params import MonitoringParams
from loopwatch.recsys.params import RecsysParams
from loopwatch.scenario.params import ScenarioParams


class DataParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dataset: Literal["adult"] = "adult"
    valid_fraction: float = Field(0.2, gt=0.0, lt=1.0)
    seed: int = 42
    sensitive_as_inputs: bool = False


class TrainParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seed: int = 42
    max_epochs: int = Field(15, ge=1)
    batch_size: int = Field(1024, ge=1)
    lr: float = Field(1e-2, gt=0)
    weight_decay: float = Field(1e-2, ge=0)
    layers: list[int] = Field(default_factory=lambda: [200, 100])
    dropout: float = Field(0.1, ge=0, lt=1)
    embedding_dropout: float = Field(0.05, ge=0, lt=1)
    patience: int = Field(3, ge=1)
    accelerator: str = "auto"
    log1p_columns: list[str] = Field(default_factory=lambda: ["capital_gain", "capital_loss"])
    # Inverse-propensity weighting of rows that carry a logged `propensity` (feedback loops).
    ips_weighting: bool = False
    ips_clip: float = Field(10.0, ge=1.0)
    # Not in params.yaml: tests and benchmarks shrink runs with these.
    limit_train_batches: int | float | None = None
    enable_progress_bar: bool = True


class RegisterParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model_name: str = "adult-income"
    metric: str = "test_accuracy"
    min_delta: float = 0.0


class ServingParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    threshold: float = Field(0.5, gt=0, lt=1)  # decision policy: act when P(positive) >= this
    epsilon: float = Field(0.0, ge=0, le=1)  # share of uniformly random (exploration) decisions
    max_batch_rows: int = Field(1000, ge=1)
    max_body_bytes: int = Field(2_000_000, ge=1024)
    reload_interval_s: float = Field(5.0, gt=0)  # how often the champion alias is re-checked


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
    data: DataParams = Field(default_factory=DataParams)
    train: TrainParams = Field(default_factory=TrainParams)
    registry: RegisterParams = Field(default_factory=RegisterParams)
    serving: ServingParams = Field(default_factory=ServingParams)
    monitoring: MonitoringParams = Field(default_factory=MonitoringParams)
    gate: GateParams = Field(default_factory=GateParams)
    images: ImageParams = Field(default_factory=ImageParams)
    recsys: RecsysParams = Field(default_factory=RecsysParams)  # MovieLens collab + its loop
    scenario: ScenarioParams = Field(default_factory=ScenarioParams)
    deploy: DeployParams = Field(default_factory=DeployParams)

    def digest(self) -> str:
        """A short stable hash of the params, logged as a lineage tag."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


class ConfigError(ValueError):
    """A settings file or variable is wrong; the message names the field and the fix."""


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
    def prepared_dir(self) -> Path:
        return self.outputs_dir / "prepared" / self.params.data.dataset

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
            section, _, key = dotted.partition(".")
            raw.setdefault(section, {})[key] = value
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


def _explain(exc: ValidationError, source: Path) -> str:
    lines = [f"invalid settings in {source}:"]
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"])
        got = err.get("input")
        lines.append(f"  - {field}: {err['msg']} (got {got!r}); fix it in {source.name}")
    return "\n".join(lines)
