"""Property tests of the request parser: whatever the bytes, a 4xx or a value every later
step can store and write back; never another exception (a 500)."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from loopwatch.serving.jsonio import dumps
from loopwatch.serving.requests import MAX_DEPTH, RequestError, loads

TEXT = st.text(st.characters(codec=None, categories=("L", "N", "P", "Cs", "Zs")), max_size=8)
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=30)


def parsed_or_refused(body: bytes):
    try:
        payload = loads(body)
    except RequestError as exc:
        assert 400 <= exc.status < 500 and exc.message
        return None
    dumps(payload)  # what the log and the answer will do with it: must not raise
    return payload


@settings(max_examples=400, deadline=None)
@given(VALUES)
def test_any_json_value_is_parsed_into_something_writable_or_refused(value):
    body = json.dumps({"records": [value]}).encode()  # ensure_ascii: surrogates as \\ud800
    parsed_or_refused(body)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_are_parsed_or_refused(body):
    parsed_or_refused(body)


@given(st.integers(min_value=MAX_DEPTH + 1, max_value=3_000))
@settings(max_examples=20, deadline=None)
def test_any_nesting_past_the_limit_is_refused_not_a_recursion_error(depth):
    assert parsed_or_refused(b"[" * depth + b"]" * depth) is None


def test_a_key_given_twice_is_refused_naming_it_not_resolved_silently():
    body = b'{"records": [{"age": 30, "x": "a:b", "age" : 99}]}'
    try:
        loads(body)
    except RequestError as exc:
        assert (exc.status, exc.field) == (400, "age") and "twice" in exc.message
    else:
        raise AssertionError("a duplicate key was accepted")


VALID_TEXT = st.text(st.characters(categories=("L", "N", "P", "Zs")), max_size=8)
VALID = st.recursive(  # what nothing but a repeated key would refuse
    st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.floats() | VALID_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(VALID_TEXT, inner, max_size=3),
    max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(VALID_TEXT, VALID, min_size=1, max_size=5), st.data())
def test_duplicates_are_found_wherever_they_are_and_only_then(obj, data):
    """Keys with quotes, colons and escapes in them, nested anywhere: a body with a
    repeated key is refused; the same body without the repetition is not refused for it."""
    text = json.dumps({"records": [obj]})
    assert "twice" not in str(_refusal(text.encode()))
    key = data.draw(st.sampled_from(sorted(obj)))
    repeated = text[:-3] + f", {json.dumps(key)}: 1" + text[-3:]  # ...}]} -> ..., key: 1}]}
    assert "twice" in str(_refusal(repeated.encode()))


def _refusal(body: bytes):
    try:
        loads(body)
    except RequestError as exc:
        return exc.message
    return None
