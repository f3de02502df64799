"""What a tabular task is: its columns, target and sensitive attributes, and its splits."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class TabularSpec:
    """The columns of a binary tabular task.

    ``sensitive`` columns are always kept in the data (monitoring needs them) but are
    model inputs only when ``sensitive_as_inputs`` is true.
    """

    target: str
    positive_label: str
    negative_label: str
    categorical: tuple[str, ...]
    continuous: tuple[str, ...]
    sensitive: tuple[str, ...] = field(default_factory=tuple)
    sensitive_as_inputs: bool = False

    @property
    def classes(self) -> tuple[str, str]:
        """Class labels in index order: 0 = negative, 1 = positive."""
        return (self.negative_label, self.positive_label)

    @property
    def input_categorical(self) -> tuple[str, ...]:
        if self.sensitive_as_inputs:
            return self.categorical
        return tuple(c for c in self.categorical if c not in self.sensitive)

    @property
    def input_continuous(self) -> tuple[str, ...]:
        if self.sensitive_as_inputs:
            return self.continuous
        return tuple(c for c in self.continuous if c not in self.sensitive)

    @property
    def inputs(self) -> tuple[str, ...]:
        return self.input_categorical + self.input_continuous

    def labels(self, frame: pd.DataFrame) -> np.ndarray:
        """The target as 0/1; raises naming the column if a value is not one of the classes."""
        values = frame[self.target]
        unknown = set(values.dropna().unique()) - set(self.classes)
        if unknown or values.isna().any():
            found = sorted(map(str, unknown))[:5]
            nan_note = " and missing values" if values.isna().any() else ""
            raise ValueError(
                f"column {self.target!r} must hold only {self.classes}; found {found}{nan_note}"
            )
        return (values == self.positive_label).to_numpy(dtype=np.int64)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> TabularSpec:
        raw = json.loads(text)
        for key in ("categorical", "continuous", "sensitive"):
            raw[key] = tuple(raw[key])
        return cls(**raw)


def write_splits(splits: dict[str, pd.DataFrame], spec: TabularSpec, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, frame in splits.items():
        frame.to_parquet(out_dir / f"{name}.parquet", index=False)
    (out_dir / "spec.json").write_text(spec.to_json())


def read_splits(out_dir: Path) -> tuple[TabularSpec, dict[str, pd.DataFrame]]:
    spec_file = out_dir / "spec.json"
    if not spec_file.exists():
        raise FileNotFoundError(
            f"no prepared data in {out_dir}: run `loopwatch prepare` (or `dvc repro prepare`) first"
        )
    spec = TabularSpec.from_json(spec_file.read_text())
    return spec, {name: pd.read_parquet(out_dir / f"{name}.parquet") for name in SPLITS}
