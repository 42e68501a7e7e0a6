"""A caller's "uh-huh" over the agent, on a real call in virtual time: Twilio is cleared at
once, then the reply plays on from where the caller stopped hearing it; words cancel it."""

from __future__ import annotations

from call_harness import BYTES_PER_MS, FRAME_BYTES, eventually, now, phone_call, virtual

from bridge.engine import events as ev
from bridge.testing.fakes import Fakes, FakeSTT, silence, speech

HOURS = "We are open from nine to five. On Saturdays we open at ten. Sundays we are closed."
RATE = 8000


def overlap(ms: int) -> bytes:
    return speech(ms, RATE, "pcmu") + silence(300, RATE, "pcmu")


@virtual
async def test_a_backchannel_pauses_the_reply_and_it_plays_on_from_where_it_stopped() -> None:
    fakes = Fakes(stt=FakeSTT(["When are you open?", "Uh-huh."]))
    fakes.llm.replies.append(HOURS + " " + HOURS)
    async with phone_call(fakes) as line:
        phone = line.phone
        await phone.speak(400, silence_ms=400)
        await eventually(lambda: bool(phone.of("media")))
        start = phone.of("media")[0].at
        await eventually(lambda: now() >= start + 0.5)  # the caller has heard 500 ms
        await phone.talk(overlap(250))  # "uh-huh"
        done = await line.wait_for(ev.ResponseDone)
        await line.played()

    (clear,) = phone.of("clear")
    assert done.response.status == "completed"
    assert line.of(ev.ConversationItemTruncated) == []
    assert len(line.of(ev.ResponseCreated)) == 1  # the "uh-huh" got no reply of its own
    assert len(line.of(ev.InputAudioBufferCommitted)) == 1
    reply = b"".join(line.deltas(done.response.id))
    # What the caller heard before the clear, then what came after it: the whole reply once,
    # resumed within a frame of where playback stopped.
    heard_bytes = round((clear.at - start) * RATE)
    after = phone.audio(since=clear.at)
    resumed_at = len(reply) - len(after.rstrip(b"\xff"))
    assert abs(resumed_at - heard_bytes) <= FRAME_BYTES
    assert reply.endswith(after.rstrip(b"\xff")[-FRAME_BYTES:])
    assert reply[resumed_at:].startswith(after[:FRAME_BYTES])
    # The gap the caller heard: from the clear to the first resumed frame.
    first_after = next(s.at for s in phone.of("media") if s.at >= clear.at)
    assert first_after - clear.at < 0.4  # the 250 ms "uh-huh", a 64 ms pause, the verdict
    assert heard_bytes >= 500 * BYTES_PER_MS


@virtual
async def test_words_over_the_reply_cancel_it_and_become_the_next_turn() -> None:
    fakes = Fakes(stt=FakeSTT(["When are you open?", "No, wait.", "No, wait."]))
    fakes.llm.replies.append(HOURS + " " + HOURS)
    async with phone_call(fakes) as line:
        phone = line.phone
        await phone.speak(400, silence_ms=400)
        await eventually(lambda: bool(phone.of("media")))
        start = phone.of("media")[0].at
        await eventually(lambda: now() >= start + 0.5)
        await phone.talk(overlap(300))
        second = await line.wait_for(ev.ResponseDone, 2)

    # The reply was generated in full (fake engines are instant) but cut to what was heard.
    (clear,) = phone.of("clear")
    (truncated,) = line.of(ev.ConversationItemTruncated)
    assert truncated.item_id == line.of(ev.ResponseDone)[0].response.output[0].id
    assert abs(truncated.audio_end_ms / 1000 - (clear.at - start)) < 0.03
    assert second.response.status == "completed"
    assert fakes.llm.requests[-1].user_text == "No, wait."
