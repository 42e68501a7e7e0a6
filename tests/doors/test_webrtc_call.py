"""A WebRTC realtime call's playout events and barge-in on fake engines (no network: the peer
is never connected; the test pulls frames from the outbound track as aiortc would)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bridge.config import Settings
from bridge.doors.webrtc_call import RealtimeCall
from bridge.engine.commands import ClearOutputAudio
from bridge.engine.config import SessionConfig
from bridge.realtime.dialect import Dialect
from bridge.testing.fakes import FakeTTS, fake_engines, until
from bridge.testing.sdk_validation import validate_server_event
from bridge.webrtc import PeerRegistry


@pytest.fixture
async def call() -> AsyncIterator[RealtimeCall]:
    registry = PeerRegistry()
    rtc = RealtimeCall(
        engines=fake_engines(tts=FakeTTS(ms_per_char=10)),
        settings=Settings(api_keys=[]),
        dialect=Dialect.GA,
        config=SessionConfig(),
        peers=registry,
    )
    rtc.session.start()
    yield rtc
    await rtc.session.close()
    await rtc.hangup()
    assert len(registry) == 0


def watch(call: RealtimeCall) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    call.watch(Dialect.GA, seen.append)
    return seen


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


async def test_started_follows_the_audio_part_and_stopped_follows_the_drained_track(
    call: RealtimeCall,
) -> None:
    events = watch(call)
    call.session.say("Hello there.")  # 120 ms of fake speech: six frames
    await until(lambda: "response.done" in types(events))
    assert "output_audio_buffer.stopped" not in types(events)  # still queued on the track
    frames = 0
    while "output_audio_buffer.stopped" not in types(events):
        await call.peer.track.recv()
        frames += 1
        assert frames < 20
    seen = types(events)
    assert seen.index("response.content_part.added") < seen.index("output_audio_buffer.started")
    assert seen.index("response.done") < seen.index("output_audio_buffer.stopped")
    assert not any("audio.delta" in t for t in seen)
    assert call.peer.track.sent_ms == pytest.approx(120, abs=1)
    for event in events:
        validate_server_event(event, Dialect.GA)


async def test_client_clear_drops_queued_audio_and_truncates_at_what_was_sent(
    call: RealtimeCall,
) -> None:
    events = watch(call)
    call.session.say("This reply is long enough to take a second or more to play out.")
    await until(lambda: "output_audio_buffer.started" in types(events))
    while call.peer.track.sent_ms < 60:
        await call.peer.track.recv()
    await call.session.handle(ClearOutputAudio())
    assert call.peer.track.queued_ms == 0
    seen = types(events)
    assert "output_audio_buffer.cleared" in seen
    truncated = next(e for e in events if e["type"] == "conversation.item.truncated")
    assert truncated["audio_end_ms"] == 60  # three 20 ms frames of it went out
    await until(lambda: "response.done" in types(events))
    assert call.peer.track.queued_ms == 0  # late audio of the cleared reply is dropped
    assert "output_audio_buffer.stopped" not in types(events)
    for event in events:
        validate_server_event(event, Dialect.GA)


async def test_events_before_the_data_channel_opens_wait_for_it(call: RealtimeCall) -> None:
    assert [e["type"] for e in call._early] == ["session.created"]


async def test_refused_input_audio_is_reported_once_and_reading_goes_on() -> None:
    rtc = RealtimeCall(
        engines=fake_engines(),
        settings=Settings(api_keys=[], max_audio_buffer_s=0.1),
        dialect=Dialect.GA,
        config=SessionConfig(turn_detection=None),  # push-to-talk that never commits
        peers=PeerRegistry(),
    )
    rtc.session.start()
    try:
        for _ in range(20):  # 400 ms of audio into a 100 ms buffer
            await rtc._append(bytes(960))
        # Told on the call's own channel (waiting there for it to open), once.
        errors = [e for e in rtc._early if e["type"] == "error"]
        assert len(errors) == 1
        validate_server_event(errors[0], Dialect.GA)
    finally:
        await rtc.session.close()
        await rtc.hangup()


async def test_the_data_channel_and_sideband_keep_the_json_depth_setting() -> None:
    rtc = RealtimeCall(
        engines=fake_engines(),
        settings=Settings(api_keys=[], max_json_depth=8),
        dialect=Dialect.GA,
        config=SessionConfig(),
        peers=PeerRegistry(),
    )
    rtc.session.start()
    try:
        nested = '{"type": "session.update", "session": ' + '{"a": ' * 10 + "1" + "}" * 11
        side: list[dict[str, Any]] = []
        sideband = rtc.watch(Dialect.GA, side.append)
        for watcher, seen in ((rtc.main, rtc._early), (sideband, side)):
            await watcher.connection.receive(nested, rtc.session)
            (error,) = [e for e in seen if e["type"] == "error"]
            assert "nest" in error["error"]["message"].lower(), error
    finally:
        await rtc.session.close()
        await rtc.hangup()
