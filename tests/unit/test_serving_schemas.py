"""Request validation: types, missing/extra fields, NaN, limits, malformed JSON."""

from __future__ import annotations

import json

import pytest

from loopwatch.serving.requests import RequestError, loads
from loopwatch.tasks.tabular.schemas import Field, InputSchema
from tests.conftest import tiny_table

SPEC, _ = tiny_table(10)
SCHEMA = InputSchema.from_model(SPEC)  # inputs color, x1, x2; sensitive: group
GOOD = {"color": "red", "x1": 0.5, "x2": 3}


def parse(body, max_rows=10):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return SCHEMA.parse_body(raw, max_rows)


def error(body, max_rows=10) -> RequestError:
    with pytest.raises(RequestError) as info:
        parse(body, max_rows)
    return info.value


def test_schema_from_spec_keeps_sensitive_out_of_inputs():
    assert SCHEMA.input_names == ("color", "x1", "x2")
    assert SCHEMA.sensitive_names == ("group",)
    assert [f.kind for f in SCHEMA.inputs] == ["string", "double", "double"]


def test_valid_records_split_into_inputs_and_sensitive():
    got = parse({"records": [GOOD, {**GOOD, "group": "b", "color": None}],
                 "metadata": {"client": "t"}})
    assert got.inputs == [GOOD, {**GOOD, "color": None}]
    assert got.sensitive == [{"group": None}, {"group": "b"}]
    assert got.metadata == {"client": "t"} and got.model is None
    assert parse([GOOD]).inputs == [GOOD]  # a bare list is a batch too


@pytest.mark.parametrize("record, status, field, words", [
    ({"color": "red", "x1": 0.5}, 422, "x2", "missing field 'x2'"),
    ({**GOOD, "colour": "red"}, 422, "colour", "unknown field 'colour'"),
    ({**GOOD, "label": "yes"}, 422, "label", "unknown field 'label'"),
    ({**GOOD, "x1": "0.5"}, 422, "x1", "expected a number (double), got str"),
    ({**GOOD, "x1": True}, 422, "x1", "got bool"),
    ({**GOOD, "color": 3}, 422, "color", "expected a string"),
    ({**GOOD, "group": 1}, 422, "group", "expected a string"),
    ({**GOOD, "x2": [1]}, 422, "x2", "got list"),
])
def test_bad_fields_are_named(record, status, field, words):
    err = error({"records": [GOOD, record]})
    assert (err.status, err.field, err.record) == (status, field, 1)
    assert words in err.message and "records[1]" in err.message


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused_with_the_field_named(literal):
    body = b'{"records": [{"color": "red", "x1": %s, "x2": 1}]}' % literal.encode()
    err = error(body)
    assert (err.status, err.field) == (422, "x1")
    assert "not allowed" in err.message and "null" in err.message


def test_batch_limits_and_shapes():
    assert error({"records": []}).status == 422
    assert "empty batch" in error({"records": []}).message
    big = error({"records": [GOOD] * 11}, max_rows=10)
    assert big.status == 413 and "max_batch_rows" in big.message
    assert error({"records": GOOD}).field == "records"
    assert error({"records": [GOOD, 5]}).record == 1
    assert error({"rows": [GOOD]}).field == "rows"
    assert error({"metadata": {}}).field == "records"
    assert error({"records": [GOOD], "metadata": [1]}).field == "metadata"
    assert error("just a string").status == 422


@pytest.mark.parametrize("body", [b"", b"{", b'{"records": [', b"\xff\xfe", b"{'a': 1}"])
def test_malformed_json_is_400(body):
    err = error(body)
    assert err.status == 400 and ("JSON" in err.message or "empty body" in err.message)


def test_loads_is_plain_json_for_good_bodies():
    assert loads(b'{"a": [1, 2.5, null]}') == {"a": [1, 2.5, None]}


def test_signature_types_and_optional_flags_are_used():
    import pandas as pd
    from mlflow.models import infer_signature

    frame = pd.DataFrame({"color": ["red", None], "x1": [0.1, None], "x2": [1.0, 2.0]})
    sig = infer_signature(frame, pd.DataFrame({"prediction": ["no", "yes"]}))
    schema = InputSchema.from_model(SPEC, sig)
    kinds = {f.name: (f.kind, f.nullable) for f in schema.inputs}
    assert kinds == {"color": ("string", True), "x1": ("double", True), "x2": ("double", False)}
    with pytest.raises(RequestError, match="records\\[0\\].x2: is required"):
        schema.validate_records([{**GOOD, "x2": None}], 5)


def test_long_fields_take_integers_only():
    schema = InputSchema([Field("n", "long", nullable=False)])
    assert schema.validate_records([{"n": 3}], 5)[0] == [{"n": 3}]
    with pytest.raises(RequestError, match="an integer"):
        schema.validate_records([{"n": 3.5}], 5)
