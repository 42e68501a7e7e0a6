"""The model's tool-call arguments: nonsense is a ValueError the call reports to the model,
never another exception that ends the tool task (and leaves the caller in silence)."""

from __future__ import annotations

import pytest

from bridge.calls.tools import tool_arguments


@pytest.mark.parametrize("raw", ["[" * 5000, '{"a":' * 5000, "{not json", "[1]", "\ud800"])
def test_arguments_that_are_not_a_json_object_are_a_value_error(raw: str) -> None:
    with pytest.raises(ValueError, match="arguments"):
        tool_arguments(raw)


def test_arguments_that_are_an_object_are_returned() -> None:
    assert tool_arguments('{"digits": "42#"}') == {"digits": "42#"}
    assert tool_arguments("") == {}
