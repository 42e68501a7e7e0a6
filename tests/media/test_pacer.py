"""Pacing and playout tracking on an injected clock."""

import base64
import json

import pytest

from bridge.calls.frames import carrier_frames
from bridge.carriers.jambonz import JambonzCodec
from bridge.carriers.twilio import TwilioCodec
from bridge.media.pacer import AudioFrame, MarkRequest, Pacer, Playout


def frames(n: int) -> list[AudioFrame]:
    return [bytes(160) for _ in range(n)]


def test_frames_go_out_on_absolute_deadlines_at_most_200_ms_ahead() -> None:
    pacer = Pacer(frame_ms=20, lead_ms=200)
    for frame in frames(50):
        pacer.push(frame)
    assert len(pacer.due(0.0)) == 10  # 200 ms of lead
    assert pacer.due(0.0) == []
    assert pacer.next_deadline(0.0) == pytest.approx(0.02)
    # One frame per 20 ms after that, however late the timer fires: no drift, no bunching.
    assert len(pacer.due(0.02)) == 1
    assert len(pacer.due(0.1)) == 4
    assert pacer.buffered_s(0.1) <= 0.2 + 1e-9
    sent = 15
    t = 0.1
    while pacer.pending:
        t = pacer.next_deadline(t) or t
        sent += len(pacer.due(t))
    assert sent == 50
    assert abs(t - (50 * 0.02 - 0.2)) < 1e-6  # the last frame left 200 ms before it plays


def test_bursts_top_up_the_lead_once_it_falls_to_lead_minus_burst() -> None:
    pacer = Pacer(frame_ms=20, lead_ms=200, burst_ms=100)
    for frame in frames(50):
        pacer.push(frame)
    assert len(pacer.due(0.0)) == 10
    # Not woken for every frame: only once 100 ms of the 200 have played.
    assert pacer.next_deadline(0.0) == pytest.approx(0.1)
    assert len(pacer.due(0.1)) == 5  # back to 200 ms ahead
    assert pacer.buffered_s(0.1) == pytest.approx(0.2)
    t, wakeups, sent = 0.1, 0, 15
    while pacer.pending:
        t = pacer.next_deadline(t) or t
        assert pacer.buffered_s(t) >= 0.1 - 1e-9  # the carrier never holds less than that
        sent += len(pacer.due(t))
        wakeups += 1
    assert sent == 50
    assert wakeups <= 7  # 34 frames in bursts of about five


def test_burst_must_leave_some_lead() -> None:
    with pytest.raises(ValueError, match="burst_ms"):
        Pacer(lead_ms=20, burst_ms=20)


def test_a_gap_restarts_the_clock_instead_of_bursting() -> None:
    pacer = Pacer()
    for frame in frames(3):
        pacer.push(frame)
    pacer.due(0.0)
    for frame in frames(20):
        pacer.push(frame)
    assert len(pacer.due(5.0)) == 10  # long after the first audio ended: lead again, no burst


def test_marks_follow_their_audio_and_clear_drops_the_rest() -> None:
    pacer = Pacer()
    for frame in frames(20):
        pacer.push(frame)
    pacer.push(MarkRequest("m1"))
    sent = pacer.due(0.0)
    assert not any(isinstance(item, MarkRequest) for item in sent)
    dropped = pacer.clear(0.05)
    assert dropped[-1] == MarkRequest("m1")
    assert not pacer.pending
    assert pacer.buffered_s(0.05) == 0


def test_playout_from_mark_echoes() -> None:
    playout = Playout(acks=True)
    playout.sent(200)
    first = playout.new_mark()
    playout.sent(200)
    second = playout.new_mark()
    assert playout.heard_ms(now=1.0, buffered_s=0.0) == 0  # nothing acknowledged yet
    assert playout.acked(first, now=1.0)
    assert playout.heard_ms(now=1.1, buffered_s=0.0) == pytest.approx(300)  # 200 + 100 since
    assert playout.heard_ms(now=5.0, buffered_s=0.0) == 400  # never more than was sent
    playout.reset()
    assert not playout.acked(second, now=5.0)  # an echo from before the reset is ignored


def test_playout_without_acks_follows_the_pacing_clock() -> None:
    playout = Playout(acks=False)
    playout.sent(1000)
    assert playout.heard_ms(now=0.0, buffered_s=0.2) == 800


def test_carriers_that_take_it_get_a_burst_as_one_message() -> None:
    burst = [bytes([n]) * 160 for n in range(5)]
    items = [*burst[:3], MarkRequest("m1"), *burst[3:]]
    twilio = [json.loads(str(f)) for f in carrier_frames(TwilioCodec(), items)]
    assert [m["event"] for m in twilio] == ["media", "mark", "media"]
    first = base64.b64decode(twilio[0]["media"]["payload"])
    assert first == b"".join(burst[:3])  # in order, nothing lost
    assert twilio[1]["mark"]["name"] == "m1"  # the mark still follows its audio
    # Others get every 20 ms frame on its own.
    assert carrier_frames(JambonzCodec(), burst) == burst
