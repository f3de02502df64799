"""The tabular champion: the predictor plus its request schema and fast record encoder."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from loopwatch.serving.champion import CHAMPION, ModelInfo, load_logged
from loopwatch.tasks.tabular.encoder import RecordEncoder, make_encoder, predict_proba
from loopwatch.tasks.tabular.schemas import InputSchema


@dataclass(frozen=True)
class Champion:
    info: ModelInfo
    predictor: Any  # TabularPredictor or anything with .spec and .predict_proba(DataFrame)
    schema: InputSchema
    encoder: RecordEncoder | None = None

    @classmethod
    def build(cls, info: ModelInfo, predictor, signature=None) -> Champion:
        return cls(info, predictor, InputSchema.from_model(predictor.spec, signature),
                   make_encoder(predictor))

    @property
    def spec(self):
        return self.predictor.spec

    def predict_proba(self, records) -> np.ndarray:
        return predict_proba(self.predictor, self.encoder, records)

    def outside_ranges(self, records: list[dict]) -> list[list[str]]:
        """Per record, the inputs outside their training range ([] for a model that did
        not record its ranges)."""
        pre = getattr(self.predictor, "preprocessor", None)
        return pre.outside_ranges(records) if pre is not None else [[] for _ in records]


def load_version(tracking_uri: str, name: str, version: str, alias: str | None = CHAMPION
                 ) -> Champion:
    """Load one registered tabular model version with its lineage and request schema."""
    loaded = load_logged(tracking_uri, name, version, alias)
    if not hasattr(loaded.predictor, "spec"):
        raise TypeError(f"{loaded.info.model_uri} is not a loopwatch tabular model "
                        "(no TabularPredictor inside)")
    return Champion.build(loaded.info, loaded.predictor, loaded.signature)
