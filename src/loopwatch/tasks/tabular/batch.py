"""Batch scoring: a CSV or Parquet file in, the same file with predictions out.

Every row is logged to the same prediction log as the HTTP service (source
``batch``), one committed transaction per chunk *before* that chunk is written
to the output, so any row in the output has its log row. The output is written
to a temporary file and renamed at the end: a crashed run leaves no half file.

Rows are validated per column (a file's way to say "missing" is an empty
cell, so NaN is a missing value here, unlike in JSON requests); the error
names the file row and the column.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from loopwatch.data.files import unreadable
from loopwatch.serving.jsonio import dumps
from loopwatch.serving.log_store import LogStore
from loopwatch.serving.policy import DecisionPolicy
from loopwatch.serving.requests import UNSCORED, UNSCORED_FIX, first_unscored
from loopwatch.serving.rows import build_rows, new_id
from loopwatch.tasks.tabular.champion import Champion
from loopwatch.tasks.tabular.schemas import InputSchema

FORMATS = (".csv", ".parquet")


@dataclass
class BatchResult:
    rows: int
    output: Path
    model_name: str
    model_version: str
    request_id: str  # every logged row of this run carries it


def _format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"{path}: unsupported format {suffix!r}; use .csv or .parquet")
    return suffix


def read_chunks(path: Path, schema: InputSchema, chunk_rows: int) -> tuple[int | None, Iterator]:
    """(row count if cheap to know, iterator of DataFrames)."""
    if not path.exists():
        raise FileNotFoundError(f"input file {path} does not exist")
    if _format(path) == ".parquet":
        import pyarrow.parquet as pq

        file = pq.ParquetFile(path)
        return file.metadata.num_rows, (b.to_pandas() for b in file.iter_batches(chunk_rows))
    text_cols = [f.name for f in (*schema.inputs, *schema.sensitive) if f.kind == "string"]
    with path.open("rb") as fh:  # a line count for the progress bar (quoted newlines aside)
        total = max(sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 20), b"")) - 1,
                    0)
    try:
        reader = pd.read_csv(path, chunksize=chunk_rows, dtype={c: str for c in text_cols})
    except ValueError as exc:  # empty, or not UTF-8 in its first block
        raise unreadable(path, exc) from None
    return total, _readable(reader, path)


def _readable(reader, path: Path) -> Iterator[pd.DataFrame]:
    try:
        yield from reader
    except ValueError as exc:  # a malformed line or a bad byte further down
        raise unreadable(path, exc) from None


def check_frame(schema: InputSchema, frame: pd.DataFrame, first_row: int,
                where: str) -> pd.DataFrame:
    """The input and sensitive columns, typed, with None for missing values."""
    missing = [n for n in schema.input_names if n not in frame.columns]
    if missing:
        raise ValueError(f"{where} lacks the model input column(s) {missing}; the model needs "
                         f"{list(schema.input_names)}")
    fields = list(schema.inputs) + [f for f in schema.sensitive
                                    if f.name in frame.columns and f.name not in schema.input_names]
    out = {}
    for f in fields:
        col = frame[f.name]
        if f.kind == "string":
            values = col.astype(object)
            bad = values.notna() & ~values.map(lambda v: isinstance(v, str))
        else:
            values = pd.to_numeric(col, errors="coerce")
            bad = (values.isna() & col.notna()) | np.isinf(values.astype("float64"))
        if not f.nullable:
            bad |= col.isna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(f"{where} row {first_row + i}: column '{f.name}': expected "
                             f"{f.kind}{'' if f.nullable else ' (required)'}, got "
                             f"{col.iloc[i]!r}")
        out[f.name] = values.astype(object).where(values.notna(), None)
    return pd.DataFrame(out, index=frame.index)


def score_file(input_path: Path | str, output_path: Path | str, champion: Champion,
               store: LogStore, policy: DecisionPolicy, *, rng: np.random.Generator | None = None,
               chunk_rows: int = 2000, progress: bool = True,
               now: datetime | None = None) -> BatchResult:
    """Score a file, log every row, write the output; ``now`` stamps the log rows (default:
    the wall clock; a simulation passes its own calendar)."""
    input_path, output_path = Path(input_path), Path(output_path)
    out_format = _format(output_path)
    rng = rng if rng is not None else np.random.default_rng()
    schema, info, classes = champion.schema, champion.info, champion.spec.classes
    total, chunks = read_chunks(input_path, schema, chunk_rows)
    request_id = new_id()
    tmp = output_path.with_name(f".{output_path.name}.partial")
    output_path.parent.mkdir(parents=True, exist_ok=True)
    done, writer = 0, None
    from rich.progress import Progress

    try:
        with Progress(disable=not progress, transient=False) as bar:
            task = bar.add_task(f"scoring {input_path.name}", total=total)
            for chunk in chunks:
                typed = check_frame(schema, chunk, done, input_path.name)
                inputs = typed[list(schema.input_names)]
                proba = np.asarray(champion.predictor.predict_proba(inputs), dtype=np.float64)
                records = inputs.to_dict("records")
                unscored = first_unscored(proba, records)
                if unscored is not None:  # refused, not logged with no score
                    i, field = unscored
                    worst = f"; column '{field}' = {records[i][field]!r}" if field else ""
                    raise ValueError(f"{input_path.name} row {done + i}: {UNSCORED}{worst}: "
                                     f"{UNSCORED_FIX}")
                decisions = policy.decide(proba[:, -1], rng)
                sens_cols = [c for c in schema.sensitive_names if c in typed.columns]
                sensitive = typed[sens_cols].to_dict("records") if sens_cols else []
                rows, items = build_rows(
                    model_name=info.name, model_version=info.version, classes=classes,
                    inputs=records, sensitive=sensitive, proba=proba, decisions=decisions,
                    policy=policy, source="batch", request_id=request_id,
                    metadata={"file": input_path.name, "first_row": done},
                    inputs_json=[dumps(r) for r in records], first_position=done, now=now)
                store.write_predictions(rows)  # logged (committed) before it is output
                scored = chunk.reset_index(drop=True).assign(
                    prediction_id=[i["prediction_id"] for i in items],
                    prediction=[i["label"] for i in items],
                    **{f"prob_{c}": proba[:, j] for j, c in enumerate(classes)},
                    decision=[i["decision"] for i in items],
                    propensity=decisions.propensity, explored=decisions.explored,
                    model_version=info.version)
                writer = _append(scored, tmp, out_format, writer)
                done += len(chunk)
                bar.update(task, advance=len(chunk))
        if writer is None:
            raise ValueError(f"{input_path} holds no rows to score")
        writer.close()
        tmp.replace(output_path)
    finally:
        tmp.unlink(missing_ok=True)
    return BatchResult(done, output_path, info.name, info.version, request_id)


def _append(frame: pd.DataFrame, path: Path, out_format: str, writer):
    if out_format == ".csv":
        frame.to_csv(path, mode="w" if writer is None else "a", header=writer is None,
                     index=False)
        return writer or _NoClose()
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    if writer is None:
        writer = pq.ParquetWriter(path, table.schema)
    writer.write_table(table.cast(writer.schema))
    return writer


class _NoClose:
    def close(self) -> None:
        pass
