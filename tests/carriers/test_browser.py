"""The softphone codec: the page's JSON and the transport's mark echoes in, frames out."""

from __future__ import annotations

import json

import pytest

from bridge.carriers.base import (
    CallEnded,
    CarrierProtocolError,
    DtmfReceived,
    Ignored,
    MarkPlayed,
    MediaReceived,
)
from bridge.carriers.browser import BrowserCodec


def test_audio_and_page_messages_become_call_events() -> None:
    codec = BrowserCodec()
    assert codec.receive(b"\x01\x02") == [MediaReceived(b"\x01\x02")]
    assert codec.receive(b"") == []
    assert codec.receive('{"type": "dtmf", "digit": "5"}') == [DtmfReceived("5")]
    assert codec.receive('{"type": "dtmf", "digit": "a"}') == [DtmfReceived("A")]
    assert codec.receive('{"type": "ping"}') == [Ignored("ping")]
    assert codec.receive('{"type": "hangup"}') == [CallEnded("hangup")]


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        ("not json", "invalid JSON"),
        ("[1]", "JSON object"),
        ('{"type": "dtmf", "digit": "55"}', "invalid digit"),
        ('{"type": "dtmf"}', "invalid digit"),
        ('{"type": "shout"}', "unknown softphone message type 'shout'"),
        ('{"type": "mark", "name": "m1"}', "never sent"),
        ("[" * 10_000, "invalid"),
    ],
)
def test_bad_page_messages_are_clear_protocol_errors(frame: str, error: str) -> None:
    with pytest.raises(CarrierProtocolError, match=error):
        BrowserCodec().receive(frame)


def test_marks_are_echoed_once_and_only_when_issued() -> None:
    codec = BrowserCodec()
    (frame,) = codec.mark("m7")
    assert json.loads(frame) == {"type": "mark", "name": "m7"}
    assert codec.receive(frame) == [MarkPlayed("m7")]
    with pytest.raises(CarrierProtocolError, match="never sent"):
        codec.receive(frame)  # a replayed echo claims nothing


def test_outbound_frames() -> None:
    codec = BrowserCodec()
    assert codec.media(b"\x00" * 1920) == [b"\x00" * 1920]
    assert [json.loads(f) for f in codec.clear()] == [{"type": "clear"}]
    assert [json.loads(f) for f in codec.hangup()] == [{"type": "hangup"}]
    assert codec.playout_acks == "mark"
