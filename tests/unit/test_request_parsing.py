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
