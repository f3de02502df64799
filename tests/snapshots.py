"""Reading numbers back out of Evidently snapshots and the running UI, for the tests'
round-trip checks (the library writes snapshots; only the tests read them this way)."""

from __future__ import annotations

import json
from typing import Any

import httpx

EVIDENTLY = "evidently:metric_v2:"


def metrics(snapshot: Any) -> list[dict]:
    return json.loads(snapshot.json())["metrics"]


def drift_share(snapshot: Any) -> float:
    """Evidently's own DriftedColumnsCount share (to check ours against it)."""
    for metric in metrics(snapshot):
        if metric["config"]["type"] == EVIDENTLY + "DriftedColumnsCount":
            return float(metric["value"]["share"])
    raise ValueError("snapshot has no DriftedColumnsCount metric: not a DataDriftPreset report")


def headline(snapshot: Any) -> dict[str, float]:
    """The numbers ``drift.headline_snapshot`` stored."""
    return {m["config"]["column"]: float(m["value"])
            for m in metrics(snapshot) if m["config"]["type"] == EVIDENTLY + "MeanValue"}


def recsys(snapshot: Any, k: int) -> dict[str, float]:
    """A ``recsys_report``'s numbers by short name: precision_at_k, ndcg_at_k, hit_rate_at_k,
    personalization, popularity_arp / _coverage / _gini. The top-k metrics hold one value
    per position up to k (or fewer): the value at k is the last one that exists."""
    out: dict[str, float] = {}
    for metric in metrics(snapshot):
        kind = metric["config"]["type"].removeprefix(EVIDENTLY)
        value = metric["value"]
        if kind in ("PrecisionTopK", "NDCG", "HitRate"):
            values = list(value["value"].values())
            name = {"PrecisionTopK": "precision", "NDCG": "ndcg", "HitRate": "hit_rate"}[kind]
            out[f"{name}_at_{k}"] = float(values[min(k, len(values)) - 1])
        elif kind == "Personalization":
            out["personalization"] = float(value)
        elif kind == "PopularityBiasMetric":
            out[f"popularity_{metric['config']['metric']}"] = float(value)
    return out


def ui_projects(url: str) -> list[dict]:
    """The projects a running Evidently UI serves (``GET /api/projects``)."""
    response = httpx.get(f"{url}/api/projects", timeout=10)
    response.raise_for_status()
    return response.json()
