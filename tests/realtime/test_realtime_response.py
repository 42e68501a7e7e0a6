"""response.create parameters resolved against the session, and the validator's strictness."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from bridge.audio.format import PCMA, PCMU
from bridge.engine.config import FunctionTool, SessionConfig
from bridge.engine.errors import CommandError
from bridge.engine.events import ResponseCreated, ResponseTextDelta
from bridge.engine.response import ResponseParams, new_response
from bridge.realtime.dialect import Dialect
from bridge.realtime.events import render_event
from bridge.realtime.response import parse_response_params
from bridge.testing.sdk_validation import validate_server_event

CONFIG = SessionConfig(voice="verse", output_audio_format=PCMU, max_output_tokens=300)


def test_defaults_come_from_the_session() -> None:
    response = new_response(CONFIG, ResponseParams(), conversation_id="conv_1")
    assert response.id.startswith("resp_")
    assert response.status == "in_progress"
    assert response.voice == "verse"
    assert response.output_audio_format == PCMU
    assert response.output_modalities == ("audio",)
    assert response.max_output_tokens == 300
    assert response.temperature == CONFIG.temperature
    assert response.conversation_id == "conv_1"


def test_overrides_win_and_out_of_band_responses_have_no_conversation() -> None:
    params = parse_response_params(
        {
            "conversation": "none",
            "output_modalities": ["text"],
            "audio": {"output": {"format": {"type": "audio/pcma"}, "voice": "ash"}},
            "max_output_tokens": "inf",
            "tools": [{"type": "function", "name": "lookup"}],
            "temperature": 0.6,
        },
        Dialect.GA,
    )
    assert params.tools == (FunctionTool("lookup"),)
    response = new_response(CONFIG, params, conversation_id="conv_1")
    assert response.conversation_id is None
    assert response.output_modalities == ("text",)
    assert response.output_audio_format == PCMA
    assert response.voice == "ash"
    assert response.max_output_tokens == "inf"
    assert response.temperature == 0.6
    for dialect in Dialect:
        validate_server_event(render_event(ResponseCreated(response), dialect), dialect)  # type: ignore[arg-type]


def test_dialect_specific_names_are_not_mixed() -> None:
    # A beta name in a GA response.create is an unknown field, hence ignored.
    params = parse_response_params({"modalities": ["text"]}, Dialect.GA)
    assert params.output_modalities is None
    assert parse_response_params({"modalities": ["text"]}, Dialect.BETA).output_modalities == (
        "text",
    )


@pytest.mark.parametrize(
    ("payload", "param"),
    [
        ({"metadata": {f"k{i}": "v" for i in range(17)}}, "response.metadata"),
        ({"metadata": {"k" * 65: "v"}}, "response.metadata." + "k" * 65),
        ({"tools": [{"name": "a b"}]}, "response.tools[0].name"),
        ({"tool_choice": 3}, "response.tool_choice"),
        ({"input": "all"}, "response.input"),
        ({"temperature": "hot"}, "response.temperature"),
        ({"instructions": ["a"]}, "response.instructions"),
    ],
)
def test_invalid_response_params(payload: dict[str, Any], param: str) -> None:
    with pytest.raises(CommandError) as caught:
        parse_response_params(payload, Dialect.GA)
    assert caught.value.param == param


def test_sdk_validator_is_strict() -> None:
    event = render_event(ResponseTextDelta("resp_1", "item_1", 0, 0, "hi"), Dialect.GA)
    assert event is not None
    validate_server_event(event, Dialect.GA)
    with pytest.raises(ValidationError):
        validate_server_event({k: v for k, v in event.items() if k != "delta"}, Dialect.GA)
    with pytest.raises(ValidationError):
        validate_server_event(event, Dialect.BETA)  # GA spelling is not a beta event
    with pytest.raises(AssertionError, match="deltaa"):
        validate_server_event({**event, "deltaa": "typo"}, Dialect.GA)
