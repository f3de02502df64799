"""Feedback-loop metrics per retraining generation as Evidently snapshots: an Evidently
importer alongside ``drift.py``, feeding the "feedback-loop" project of the workspace.

Evidently has no notion of a retraining generation nor of propensities, so nothing of its
own computes these numbers: ``generation_values`` does (from the decision log, with
``feedback_loop``'s estimators) and each generation becomes one snapshot of built-in
MeanValue metrics over one-row columns (``drift.headline_snapshot``), one per number. Why
not a custom Evidently metric class: a snapshot holding one can only be read back by a
process that imports its class, and ``evidently ui`` does not import loopwatch; the
built-in metric renders anywhere and a panel picks a number by its ``column`` label.

Snapshots are tagged ``feedback-loop``, the world and the variant (e.g. ``naive``/``ips``),
with the generation in their metadata, and stamped one day apart ending now, so the UI's
time axis reads as generations. Re-running a world replaces that world's snapshots.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from loopwatch.monitoring.feedback_loop import (
    ORIGINS,
    decision_dependent_share,
    naive_vs_ips,
    support,
)
from loopwatch.monitoring.workspace import dashboard_module, project_for

PROJECT = "feedback-loop"
TAG = "feedback-loop"
DASHBOARD_FILE = "feedback_loop.py"


def unit_name(unit: Any) -> str:
    """District 0, 1, ... as A, B, ... (as on the plots); other unit names unchanged."""
    return "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[unit] if isinstance(unit, int) and unit < 26 else str(unit)


def generation_values(rows: pd.DataFrame, units: Sequence, truth: Sequence[float] | None = None
                      ) -> dict[str, float]:
    """One generation's dashboard numbers from its log rows (unit, label, origin, propensity).

    Exposure share and effective sample size count decisions only (organic rows were not
    allocated); naive/IPS shares and origin shares count every labelled row.
    """
    decided = rows[rows["origin"] != "organic"]
    exposure = decided["unit"].value_counts().reindex(units, fill_value=0)
    gap, naive, ips = naive_vs_ips(rows, units)
    sup = support(decided, units)
    origin = rows["origin"].value_counts(normalize=True)
    values = {"rho": decision_dependent_share(rows["origin"]), "naive_ips_gap": gap,
              "min_propensity": float(sup["min_propensity"].min())}
    for u in units:
        name = unit_name(u)
        values[f"exposure_share.{name}"] = float(exposure[u] / max(1, exposure.sum()))
        values[f"naive_share.{name}"] = float(naive[u])
        values[f"ips_share.{name}"] = float(ips[u])
        values[f"ess.{name}"] = float(sup.loc[u, "ess"])
    values |= {f"origin_share.{o}": float(origin.get(o, 0.0)) for o in ORIGINS}
    if truth is not None:  # a simulator knows it: drawn as a reference line
        values |= {f"truth_share.{unit_name(u)}": float(t) for u, t in zip(units, truth,
                                                                            strict=True)}
    return values


def open_project(workspace: Any) -> Any:
    """The workspace's "feedback-loop" project, created on first use."""
    return project_for(workspace, PROJECT, "loopwatch feedback-loop metrics per retraining "
                                           "generation")


def write_generations(workspace: Any, project: Any, rows: pd.DataFrame, units: Sequence,
                      world: str, variant: str, truth: Sequence[float] | None = None,
                      end: datetime | None = None,
                      extra: Mapping[int, Mapping[str, float]] | None = None) -> list[str]:
    """One snapshot per generation of ``rows`` (needs a ``generation`` column); their ids.

    ``extra`` maps a generation to further numbers of a world's own (e.g. the lending loop's
    approval rates and accuracies) stored in its snapshot beside ``generation_values``.
    """
    from loopwatch.monitoring.drift import headline_snapshot

    generations = sorted(rows["generation"].unique())
    end = end or datetime.now(UTC).replace(microsecond=0)
    ids = []
    for i, gen in enumerate(generations):
        values = generation_values(rows[rows["generation"] == gen], units, truth)
        values |= dict((extra or {}).get(int(gen), {}))
        stamp = end - timedelta(days=len(generations) - 1 - i)
        meta = {"world": world, "variant": variant, "generation": str(int(gen)),
                "units": ",".join(unit_name(u) for u in units)}
        snapshot = headline_snapshot(values, timestamp=stamp, tags=[TAG, world, variant],
                                     metadata=meta)
        ids.append(str(workspace.add_run(project.id, snapshot, include_data=False).id))
    return ids


def read_generations(workspace: Any, project: Any) -> pd.DataFrame:
    """Every stored generation back from disk: world, variant, generation, units, then the
    numbers; sorted by world, variant and generation."""
    records = []
    for snapshot_id in workspace.list_runs(project.id):
        snap = workspace.get_run(project.id, snapshot_id)
        if TAG not in snap.tags:
            continue
        meta = snap.metadata
        values = {r.metric_value_location.metric.params["column"]: r.value
                  for r in snap.metric_results.values()}
        records.append({"world": meta["world"], "variant": meta["variant"],
                        "generation": int(meta["generation"]), "units": meta["units"],
                        "snapshot_id": str(snapshot_id), "timestamp": snap.timestamp, **values})
    if not records:
        return pd.DataFrame(columns=["world", "variant", "generation", "units", "snapshot_id"])
    return pd.DataFrame(records).sort_values(["world", "variant", "generation"],
                                             ignore_index=True)


def clear_world(workspace: Any, project: Any, world: str) -> int:
    """Delete the snapshots an earlier run of ``world`` stored; how many."""
    stored = read_generations(workspace, project)
    gone = stored.loc[stored["world"] == world, "snapshot_id"]
    for snapshot_id in gone:
        workspace.delete_run(project.id, snapshot_id)
    return len(gone)


def load_loop_panels(dashboards_dir: Path, worlds: Mapping[str, tuple[list[str], list[str]]]
                     ) -> list[tuple[str, Any]]:
    """(tab, panel) pairs from ``dashboards/feedback_loop.py``'s ``loop_panels(worlds)``;
    ``worlds`` maps a world to (variants, unit names)."""
    return dashboard_module(dashboards_dir / DASHBOARD_FILE).loop_panels(worlds)


def record_loops(path: Path, world: str, loops: Mapping[str, pd.DataFrame], units: Sequence,
                 truth: Sequence[float] | None = None, dashboards_dir: Path | None = None,
                 extra: Mapping[str, Mapping[int, Mapping[str, float]]] | None = None
                 ) -> dict[str, list[str]]:
    """Store each variant's generations of ``world`` in the workspace at ``path``, replacing
    an earlier run of the world, and re-apply the dashboard to every world stored; returns
    snapshot ids by variant. ``loops`` maps a variant name to its log rows; ``extra`` (by
    variant, then generation) adds a world's own numbers to the snapshots."""
    from loopwatch.monitoring.workspace import apply_dashboard, open_workspace

    workspace = open_workspace(path)
    project = open_project(workspace)
    clear_world(workspace, project, world)
    end = datetime.now(UTC).replace(microsecond=0)
    ids = {variant: write_generations(workspace, project, rows, units, world, variant, truth, end,
                                      (extra or {}).get(variant))
           for variant, rows in loops.items()}
    if dashboards_dir is not None:
        stored = read_generations(workspace, project)
        worlds = {w: (sorted(group["variant"].unique()), group["units"].iloc[0].split(","))
                  for w, group in stored.groupby("world")}
        apply_dashboard(workspace, project, load_loop_panels(dashboards_dir, worlds))
    return ids
