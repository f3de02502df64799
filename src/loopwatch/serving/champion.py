"""The served model of any task: load ``models:/NAME@champion``, hold it, swap it when the
alias moves.

A champion is an immutable snapshot (the task's predictor plus its lineage, and whatever
the task derives from it, such as an input schema). Requests read ``source.current()``
once and use that snapshot to the end, so swapping the holder's reference (an atomic
assignment) never disturbs a request in flight: the old model lives until its last
request ends.

``ChampionHolder`` resolves the alias through ``MlflowClient`` and loads the *version* it
points to (not the alias, which could move between the two calls) with the task's
``loader`` (default: the plain ``LoadedModel``). It re-checks the alias every
``poll_interval`` seconds on a daemon thread and on demand (``refresh``, behind
``POST /admin/reload``); a failed check or load keeps the current model and is reported
in ``last_error``.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

log = logging.getLogger(__name__)
CHAMPION = "champion"  # = loopwatch.training.registry.CHAMPION (not imported: keeps mlflow lazy)
TAG_DATA = "loopwatch.data_md5"  # = loopwatch.training.tracking.TAG_DATA (imports lightning)


class NoChampion(LookupError):
    """No model is loaded (no version carries the alias, or loading failed)."""


@dataclass(frozen=True)
class ModelInfo:
    name: str
    version: str
    alias: str | None = CHAMPION
    run_id: str | None = None
    data_hash: str | None = None
    model_uri: str | None = None
    loaded_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())


class PredictorSource(Protocol):
    """What the app needs from a model holder (``ChampionHolder``, ``StaticSource``)."""

    def current(self) -> Any: ...
    def refresh(self) -> bool: ...
    def start(self) -> None: ...
    def stop(self) -> None: ...


class StaticSource:
    """A fixed model: tests, and serving a model that is not in a registry."""

    def __init__(self, champion: Any | None):
        self.champion, self.last_error = champion, None

    def current(self) -> Any:
        if self.champion is None:
            raise NoChampion("no model is loaded")
        return self.champion

    def refresh(self) -> bool:
        return False

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


def loader_requiring(method: str, what: str) -> Callable[..., LoadedModel]:
    """A ``load_logged`` that refuses a registered model whose predictor lacks ``method``
    (a task's routes then never get another task's model under the same name)."""
    def load(tracking_uri: str, name: str, version: str, alias: str | None = CHAMPION
             ) -> LoadedModel:
        loaded = load_logged(tracking_uri, name, version, alias)
        if not hasattr(loaded.predictor, method):
            raise TypeError(f"{loaded.info.model_uri} is not a loopwatch {what} "
                            f"(its predictor has no {method})")
        return loaded
    return load


@dataclass(frozen=True)
class LoadedModel:
    """A registered model version as loaded: its lineage, the predictor inside the pyfunc,
    and the signature MLflow recorded (tasks build their own champion from it)."""

    info: ModelInfo
    predictor: Any
    signature: Any = None


def load_logged(tracking_uri: str, name: str, version: str, alias: str | None = CHAMPION
                ) -> LoadedModel:
    """Load one registered model version (the loopwatch pyfunc) with its lineage."""
    import mlflow
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri)
    mv = client.get_model_version(name, version)
    data_hash = client.get_run(mv.run_id).data.tags.get(TAG_DATA) if mv.run_id else None
    uri = f"models:/{name}/{version}"
    # Where the files are, asked through this client: MLflow 3 resolves a models:/ URI
    # through the process-wide tracking URI whatever is passed, which fails (or loads
    # another store's model) once anything in the process pointed it elsewhere.
    location = client.get_model_version_download_uri(name, version)
    with tempfile.TemporaryDirectory(prefix="loopwatch-model-") as tmp:
        local = mlflow.artifacts.download_artifacts(artifact_uri=location, dst_path=tmp,
                                                    tracking_uri=tracking_uri)
        model = mlflow.pyfunc.load_model(local)
    predictor = getattr(model.unwrap_python_model(), "predictor", None)
    if predictor is None:
        raise TypeError(f"{uri} is not a loopwatch model (no predictor inside its pyfunc)")
    info = ModelInfo(name, str(version), alias, mv.run_id, data_hash, uri)
    return LoadedModel(info, predictor, model.metadata.signature)


class ChampionHolder:
    def __init__(self, tracking_uri: str, name: str, alias: str = CHAMPION,
                 poll_interval: float | None = 5.0,
                 loader: Callable[..., Any] = load_logged):
        self.tracking_uri, self.name, self.alias = tracking_uri, name, alias
        self.poll_interval, self.loader = poll_interval, loader
        self._champion: Any | None = None
        self._lock = threading.Lock()  # one resolve+load at a time (poller vs admin reload)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client = None  # created on first use: no mlflow import before it is needed
        self.last_error: str | None = None

    def current(self) -> Any:
        champion = self._champion  # one read: the snapshot this request will use throughout
        if champion is None:
            raise NoChampion(f"no version of {self.name!r} with alias {self.alias!r} is loaded"
                             + (f": {self.last_error}" if self.last_error else ""))
        return champion

    def resolve(self) -> str:
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient

        if self._client is None:
            self._client = MlflowClient(self.tracking_uri)
        try:
            mv = self._client.get_model_version_by_alias(self.name, self.alias)
        except MlflowException as exc:
            if exc.error_code not in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                raise  # the registry is unreachable or broken: not a missing model
            raise NoChampion(f"no version of registered model {self.name!r} has alias "
                             f"{self.alias!r} in {self.tracking_uri} (train and register a "
                             f"model first: `loopwatch register`)") from exc
        return str(mv.version)

    def refresh(self) -> bool:
        """Load the version the alias points to if it changed; True when the model changed."""
        with self._lock:
            version = self.resolve()
            if self._champion is not None and self._champion.info.version == version:
                self.last_error = None  # the registry answers again
                return False
            champion = self.loader(self.tracking_uri, self.name, version, self.alias)
            previous, self._champion = self._champion, champion  # the atomic swap
            self.last_error = None
        log.info("serving %s version %s (was %s)", self.name, version,
                 previous.info.version if previous else "none")
        return True

    def start(self) -> None:
        if self.poll_interval and self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._poll, name="champion-poller",
                                            daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_interval):
            try:
                self.refresh()
            except Exception as exc:  # keep serving the current model; say why in /health
                error = f"{type(exc).__name__}: {exc}"
                if error != self.last_error:  # once per new problem, not every few seconds
                    log.warning("champion refresh failed, still serving the current "
                                "model: %s", error)
                self.last_error = error
