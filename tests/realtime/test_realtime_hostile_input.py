"""Hostile /v1/realtime frames get an ``error`` event and the session goes on (issue:
a phone line is a hostile place). Each of these closed the socket before."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bridge.config import Settings
from bridge.engine import commands as cmd
from bridge.engine.config import SessionConfig
from bridge.engine.session import LocalConversation
from bridge.realtime.dialect import Dialect
from bridge.realtime.server import ServerConnection
from bridge.testing.fakes import Fakes


class Recorder:
    """The engine behind a connection, reduced to what it was asked to do."""

    def __init__(self) -> None:
        self.config = SessionConfig()
        self.voice_locked = False
        self.commands: list[cmd.Command] = []

    async def handle(self, command: cmd.Command) -> None:
        self.commands.append(command)


def connection(dialect: Dialect = Dialect.GA) -> tuple[ServerConnection, list[dict[str, Any]]]:
    sent: list[dict[str, Any]] = []
    return ServerConnection(dialect, sent.append, max_message_bytes=1 << 20), sent


def nested_schema(levels: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(levels):
        schema = {"type": "object", "properties": {"inner": schema}}
    return schema


@pytest.mark.parametrize("dialect", list(Dialect))
@pytest.mark.parametrize(
    "frame", ["[" * 5000, '{"a":' * 5000, '{"type": "session.update", "x": ' + "[" * 3000]
)
async def test_a_deeply_nested_frame_is_an_error_event(dialect: Dialect, frame: str) -> None:
    conn, sent = connection(dialect)
    engine = Recorder()
    await conn.receive(frame, engine)
    (error,) = sent
    assert error["type"] == "error"
    assert error["error"]["code"] == "invalid_json"
    assert "nested" in error["error"]["message"]
    assert engine.commands == []


async def test_a_tool_whose_parameters_nest_hundreds_of_levels_is_refused() -> None:
    conn, sent = connection()
    engine = Recorder()
    tool = {"type": "function", "name": "deep", "parameters": nested_schema(400)}
    frame = json.dumps({"type": "session.update", "session": {"type": "realtime", "tools": [tool]}})
    await conn.receive(frame, engine)
    (error,) = sent
    assert error["type"] == "error"
    assert engine.commands == []
    # The same tool, shallow enough, is accepted: the session goes on.
    tool["parameters"] = nested_schema(5)
    frame = json.dumps({"type": "session.update", "session": {"type": "realtime", "tools": [tool]}})
    await conn.receive(frame, engine)
    (command,) = engine.commands
    assert isinstance(command, cmd.UpdateConfig)


async def test_tool_parameters_nested_too_deep_are_refused_where_no_frame_was_parsed() -> None:
    # Client secrets and dialplans hand apply_update parsed objects: the tool check holds too.
    from bridge.engine.errors import CommandError
    from bridge.realtime.session_config import apply_update

    session = {"type": "realtime", "tools": [{"name": "deep", "parameters": nested_schema(400)}]}
    with pytest.raises(CommandError) as raised:
        apply_update(SessionConfig(), session, Dialect.GA)
    assert raised.value.param == "session.tools[0].parameters"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("silence_duration_ms", 10**30),
        ("prefix_padding_ms", 10**30),
        ("idle_timeout_ms", 10**30),
    ],
)
async def test_huge_turn_detection_numbers_are_refused_by_a_live_engine(
    field: str, value: int
) -> None:
    conn, sent = connection()
    fakes = Fakes()
    session = LocalConversation(
        engines=fakes.engines(),
        settings=Settings().conversation,
        emit=conn.send,
        config=SessionConfig(),
    )
    session.start()
    try:
        turn = {"type": "server_vad", field: value}
        update = {"type": "realtime", "audio": {"input": {"turn_detection": turn}}}
        await conn.receive(json.dumps({"type": "session.update", "session": update}), session)
        errors = [event for event in sent if event["type"] == "error"]
        assert [e["error"]["param"] for e in errors] == [
            f"session.audio.input.turn_detection.{field}"
        ]
        await conn.receive(json.dumps({"type": "input_audio_buffer.clear"}), session)
    finally:
        await session.close()


async def test_the_depth_limit_is_the_connections_setting() -> None:
    sent: list[dict[str, Any]] = []
    conn = ServerConnection(Dialect.GA, sent.append, max_message_bytes=1 << 20, max_json_depth=8)
    engine = Recorder()
    # Depth 8 (the event object, session, audio, input, turn_detection) is accepted ...
    turn = {"type": "server_vad", "x": [[[]]]}
    update = {"type": "realtime", "audio": {"input": {"turn_detection": turn}}}
    await conn.receive(json.dumps({"type": "session.update", "session": update}), engine)
    assert sent == []
    # ... depth 9 is not.
    turn["x"] = [[[[]]]]
    await conn.receive(json.dumps({"type": "session.update", "session": update}), engine)
    assert [e["error"]["code"] for e in sent] == ["invalid_json"]
    assert len(engine.commands) == 1


HUGE = 10**400  # valid JSON; float() of it raises OverflowError


@pytest.mark.parametrize(
    ("dialect", "event", "param"),
    [
        (Dialect.BETA, {"type": "session.update", "session": {"temperature": HUGE}},
         "session.temperature"),
        (Dialect.BETA, {"type": "session.update", "session": {"speed": HUGE}}, "session.speed"),
        (Dialect.BETA,
         {"type": "session.update", "session": {"turn_detection": {"threshold": -HUGE}}},
         "session.turn_detection.threshold"),
        (Dialect.GA,
         {"type": "session.update",
          "session": {"type": "realtime", "audio": {"output": {"speed": HUGE}}}},
         "session.audio.output.speed"),
        (Dialect.GA, {"type": "response.create", "response": {"temperature": HUGE}},
         "response.temperature"),
    ],
)  # fmt: skip
async def test_a_number_too_large_for_a_float_is_an_error_event(
    dialect: Dialect, event: dict[str, Any], param: str
) -> None:
    # Found by the long profile of tests/fuzz/test_fuzz_realtime_session.py: OverflowError
    # escaped the frame's handling and closed the session.
    conn, sent = connection(dialect)
    engine = Recorder()
    await conn.receive(json.dumps(event), engine)
    (error,) = sent
    assert error["type"] == "error"
    assert error["error"]["param"] == param
    assert "finite" in error["error"]["message"]
    assert engine.commands == []
