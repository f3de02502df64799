"""Evidently 0.7 recommender reports for one generation's slates.

Kept apart from ``drift`` (the tabular reports) but with its rule: Evidently's API churns,
so the recsys metrics are built and read here only. What we use and why:

- ``RecsysPreset`` fails in 0.7.23 (its MRR gets a float ``k`` and raises TypeError), so the
  report lists its metrics one by one: PrecisionTopK, NDCG, HitRate, Personalization, and
  PopularityBiasMetric as ARP, coverage and Gini (these three need the training data,
  passed as ``additional_data={"current_train_data": ...}``).
- Rows are the shown slates: ``user_id``, ``item_id``, ``rank`` (1 = top) and ``target``
  (1 if relevant). ``recommendations_type="rank"``.
- Top-k metrics come back as a table by rank; read the row for ``k`` by position, not
  label: NDCG's ranks start at 2 in 0.7.23 (an off-by-one in its table).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd


def _dataset(frame: pd.DataFrame, numerical: Sequence[str]):
    from evidently import DataDefinition, Dataset, Recsys

    definition = DataDefinition(
        numerical_columns=list(numerical), categorical_columns=["user_id", "item_id"],
        ranking=[Recsys(user_id="user_id", item_id="item_id", target="target",
                        prediction="rank", recommendations_type="rank")])
    return Dataset.from_pandas(frame, data_definition=definition)


def recsys_report(slates: pd.DataFrame, train: pd.DataFrame, k: int,
                  timestamp: datetime | None = None, tags: Sequence[str] = (),
                  metadata: dict[str, str] | None = None) -> Any:
    """An Evidently snapshot of one generation's slates against the data the model saw."""
    from evidently import Report
    from evidently.metrics import (
        NDCG,
        HitRate,
        Personalization,
        PopularityBiasMetric,
        PrecisionTopK,
    )

    current = slates[["user_id", "item_id", "rank", "target"]].astype(
        {"user_id": str, "item_id": str, "rank": "int64", "target": "int64"})
    history = pd.DataFrame({"user_id": train["user_id"].astype(str),
                            "item_id": train["item_id"].astype(str),
                            "target": 1, "rank": 1})
    metrics = [PrecisionTopK(k=k), NDCG(k=k), HitRate(k=k), Personalization(k=k),
               *(PopularityBiasMetric(k=k, metric=m) for m in ("arp", "coverage", "gini"))]
    return Report(metrics, include_tests=False).run(
        _dataset(current, ["rank", "target"]), None,
        additional_data={"current_train_data": _dataset(history, ["rank", "target"])},
        timestamp=timestamp, tags=list(tags), metadata=dict(metadata or {}))
