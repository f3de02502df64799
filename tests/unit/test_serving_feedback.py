"""Feedback rules (pure) and feedback files."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from loopwatch.serving.feedback import FeedbackItem, parse_items, plan, read_feedback_file

NOW = datetime(2024, 6, 1, tzinfo=UTC)
KNOWN = {"a": ("no", "yes"), "b": ("no", "yes"), "c": ("no", "yes")}


def item(pid, label="yes", origin="organic", **kw):
    return FeedbackItem(prediction_id=pid, label=label, origin=origin, **kw)


def test_plan_sorts_items_into_accepted_duplicates_unknown_and_conflicts():
    rows, report = plan([item("a"), item("b", "no"), item("b", "no"), item("b", "yes"),
                         item("x"), item("c", origin="exploration")],
                        KNOWN, {"c": ("yes", "organic")}, NOW)
    assert report.accepted == ["a", "b"] and report.duplicates == ["b"]
    assert report.unknown == ["x"]
    assert [c["prediction_id"] for c in report.conflicts] == ["b", "c"]
    assert "origin organic" in report.conflicts[1]["message"]
    assert rows[0] == {"prediction_id": "a", "label": "yes", "origin": "organic",
                       "arrived_at": NOW, "recorded_at": NOW}
    assert report.to_dict()["summary"].startswith("2 stored, 1 already known, 1 unknown")


def test_items_validate_origin_and_normalise_times_to_utc():
    local = datetime(2024, 1, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    assert item("a", arrived_at=local).arrived_at == datetime(2024, 1, 1, 10, tzinfo=UTC)
    assert item("a", arrived_at=datetime(2024, 1, 1)).arrived_at.tzinfo == UTC
    with pytest.raises(ValidationError, match="origin"):
        item("a", origin="rumour")
    with pytest.raises(ValidationError):
        FeedbackItem(prediction_id="a", label="yes", origin="organic", extra=1)


def test_parse_items_fills_the_default_origin_and_names_bad_rows():
    items = parse_items([{"prediction_id": "a", "label": 1, "arrived_at": None}], "organic")
    assert items[0].label == "1" and items[0].origin == "organic"
    with pytest.raises(ValueError, match="row 1: field 'origin'.*--origin"):
        parse_items([{"prediction_id": "a", "label": "y", "origin": "organic"},
                     {"prediction_id": "b", "label": "y"}])


def test_feedback_files_csv_jsonl_parquet(tmp_path):
    import pandas as pd

    frame = pd.DataFrame({"prediction_id": ["a", "b"], "label": ["yes", "no"],
                          "arrived_at": ["2024-01-02T00:00:00Z", ""]})
    frame.to_csv(tmp_path / "f.csv", index=False)
    items = read_feedback_file(tmp_path / "f.csv", "model-selected")
    assert [i.origin for i in items] == ["model-selected"] * 2
    assert items[0].arrived_at == datetime(2024, 1, 2, tzinfo=UTC) and items[1].arrived_at is None
    frame.assign(origin="organic").to_json(tmp_path / "f.jsonl", orient="records", lines=True)
    assert read_feedback_file(tmp_path / "f.jsonl")[1].origin == "organic"
    frame.assign(origin="exploration").to_parquet(tmp_path / "f.parquet")
    assert read_feedback_file(tmp_path / "f.parquet")[0].origin == "exploration"
    frame[["label"]].to_csv(tmp_path / "g.csv", index=False)
    with pytest.raises(ValueError, match="prediction_id"):
        read_feedback_file(tmp_path / "g.csv")
    (tmp_path / "f.xlsx").touch()
    with pytest.raises(ValueError, match="unsupported"):
        read_feedback_file(tmp_path / "f.xlsx")
    with pytest.raises(FileNotFoundError):
        read_feedback_file(tmp_path / "none.csv")


@pytest.mark.parametrize("name, content, words", [
    ("latin.csv", "prediction_id,label\na,caf\xe9\n".encode("latin-1"),
     "latin.csv is not UTF-8 text (byte 0xe9): save it as UTF-8"),
    ("empty.csv", b"", "empty.csv is empty: give a header row"),
    ("broken.parquet", b"PAR1 not really", "broken.parquet is not a readable PARQUET file"),
    ("broken.jsonl", b'{"prediction_id": "a", "label":\n', "broken.jsonl is not a readable"),
])
def test_an_unreadable_feedback_or_records_file_is_one_line_naming_it(tmp_path, name, content,
                                                                       words):
    from loopwatch.serving.frames import read_records

    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError) as caught:
        read_feedback_file(path)
    assert str(caught.value).startswith(words) and "\n" not in str(caught.value)
    if path.suffix in (".csv", ".parquet"):  # `loopwatch predict FILE` reads them too
        with pytest.raises(ValueError, match=words.split(":")[0].replace("(", r"\(")
                           .replace(")", r"\)")):
            read_records(path)
