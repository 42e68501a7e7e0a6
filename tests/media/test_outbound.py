"""The outbound path's playout truth: marks claim only audio that has left the framer, and a
clear freezes what was heard at that moment."""

from __future__ import annotations

import pytest

from bridge.audio.format import PCMU
from bridge.media.outbound import OutboundAudio
from bridge.media.pacer import AudioFrame, MarkRequest

FRAME = PCMU.frame_bytes  # 160 bytes: 20 ms of G.711 at 8 kHz


def outbound(acks: bool = True) -> OutboundAudio:
    return OutboundAudio(
        PCMU.frame_bytes, PCMU.silence, PCMU.bytes_per_ms, lead_ms=1000, burst_ms=0, acks=acks
    )


def test_a_mark_follows_only_whole_frames_and_flush_marks_the_tail() -> None:
    out = outbound()
    out.push(b"\x01" * (FRAME * 2 + 80))  # 50 ms: two frames leave, 10 ms waits
    sent = out.due(0.0)
    assert [type(item) for item in sent] == [AudioFrame, AudioFrame, MarkRequest]
    first = sent[-1]
    assert isinstance(first, MarkRequest)
    out.flush()  # the 10 ms tail leaves, padded to a frame, with its own mark
    tail = out.due(0.0)
    assert [type(item) for item in tail] == [AudioFrame, MarkRequest]
    assert isinstance(tail[0], AudioFrame)
    assert tail[0] == b"\x01" * 80 + PCMU.silence[:80]
    second = tail[-1]
    assert isinstance(second, MarkRequest)
    out.acked(first.name, 1.0)
    assert out.heard_ms(1.0) == 40.0  # not 50: the tail had not been sent yet
    out.acked(second.name, 1.01)
    assert out.heard_ms(1.01) == 50.0  # the tail's real audio, without its padding


def test_clear_freezes_heard_until_the_next_reply() -> None:
    out = outbound(acks=False)
    out.push(b"\x01" * FRAME * 10)  # 200 ms
    out.due(0.0)  # all sent at once: it plays until 0.2 s
    assert out.clear(0.05)
    assert out.heard_ms(0.05) == pytest.approx(50.0)
    assert out.heard_ms(5.0) == pytest.approx(50.0)  # frozen: the rest was dropped at the carrier
    assert not out.clear(5.0)  # nothing is playing any more
    out.start_reply()
    assert out.heard_ms(5.0) == 0.0
