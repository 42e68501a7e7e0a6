"""The call adapter on fake engines: a real Call with the Twilio codec, an in-memory Twilio,
in virtual time (see ``tests/call_harness.py``). Milliseconds each, no models."""

from __future__ import annotations

import asyncio
import dataclasses

from call_harness import (
    BYTES_PER_MS,
    FRAME_BYTES,
    Line,
    at_time,
    eventually,
    now,
    phone_call,
    settings,
    virtual,
)

from bridge.calls import call as call_module
from bridge.engine import events as ev
from bridge.engine.config import SemanticVad, ServerVad
from bridge.engine.items import AudioPart, InputTextPart, MessageItem
from bridge.pipeline.llm import LLMError, TextDelta
from bridge.pipeline.text import split_sentences
from bridge.testing.fakes import Fakes, Hold, speech

LEAD_MS = call_module.DEFAULT_LEAD_MS  # what the pacer keeps queued at the carrier
BURST_MS = call_module.DEFAULT_BURST_MS
HOURS = "We are open from nine to five. On Saturdays we open at ten. Sundays we are closed."
PAD = b"\xff"  # μ-law silence: the last partial frame is padded with it


def wire(audio: bytes) -> bytes:
    """``audio`` as it goes out: whole 20 ms frames, the last one padded with silence."""
    return audio + PAD * (-len(audio) % FRAME_BYTES)


def assistant_part(done: ev.ResponseDone) -> AudioPart:
    (item,) = done.response.output
    assert isinstance(item, MessageItem)
    (part,) = item.content
    assert isinstance(part, AudioPart)
    return part


def media_after(line: Line, moment: float) -> int:
    return sum(len(s.value) for s in line.phone.of("media") if s.at > moment)


@virtual
async def test_a_turn_is_answered_with_paced_media_frames_each_followed_by_its_mark() -> None:
    fakes = Fakes()
    fakes.stt.transcripts.append("When are you open?")
    fakes.llm.replies.append(HOURS)
    async with phone_call(fakes) as line:
        await line.phone.speak(400, silence_ms=700)
        done = await line.wait_for(ev.ResponseDone)
        await line.played()
        stopped = line.of(ev.InputAudioBufferSpeechStopped)[0]

    phone = line.phone
    assert done.response.status == "completed"
    assert fakes.llm.requests[-1].user_text == "When are you open?"
    assert assistant_part(done).transcript == HOURS
    deltas = line.deltas(done.response.id)
    # What Twilio got is exactly the engine's audio, framed, as media messages; each piece of
    # it is followed by a mark, so the bridge learns when each was played.
    assert phone.audio() == wire(b"".join(deltas))
    kinds = phone.kinds()
    assert kinds[0] == "media"
    assert kinds[: 2 * len(deltas)] == ["media", "mark"] * len(deltas)
    assert kinds[2 * len(deltas) :] in ([], ["media"])  # the padded tail of the last frame
    assert len(phone.of("mark")) == len(deltas)
    assert phone.of("clear") == []
    # Every mark was echoed by the phone once played, so nothing was cut short.
    assert phone.echoed == [s.value for s in phone.of("mark")]
    assert line.of(ev.ConversationItemTruncated) == []

    # The reply starts the instant the turn ends (fakes take no time) and is paced: never
    # more than LEAD_MS ahead of the carrier's playout, topped up in BURST_MS bursts.
    media = phone.of("media")
    start = media[0].at
    assert start == line.at(stopped)
    sent_ms = 0.0
    for frame in media:
        sent_ms += len(frame.value) / BYTES_PER_MS
        assert sent_ms <= (frame.at - start) * 1000 + LEAD_MS + 1e-6
    reply_ms = len(phone.audio()) / BYTES_PER_MS
    assert media[-1].at - start >= (reply_ms - LEAD_MS - BURST_MS) / 1000
    assert len({frame.at for frame in media}) >= reply_ms // BURST_MS - 2  # not all at once


@virtual
async def test_barge_in_clears_twilio_at_once_and_truncates_where_the_marks_say() -> None:
    fakes = Fakes()
    hold = Hold()  # the LLM stalls after two sentences: the reply is still being generated
    first, second = "We are open from nine to five. ", "On Saturdays we open at ten. "
    fakes.llm.replies.append([TextDelta(first), TextDelta(second), hold, TextDelta("Bye.")])
    # Barge-in at once (the caller's 200 ms is all the audio it sends: no pause to judge it
    # by); tests/calls/test_backchannels.py has speech over a reply paused, then decided.
    async with phone_call(fakes, settings(backchannels=False), echo_marks=False) as line:
        phone = line.phone
        await phone.speak(400, silence_ms=700)
        created = await line.wait_for(ev.ResponseCreated)
        response_id = created.response.id
        second_delta = await line.wait_for(ev.ResponseAudioTranscriptDelta, 2)
        assert second_delta.delta.strip() == second.strip()
        # The first sentence's audio deltas are those before the second's transcript delta.
        second_at = [e for _, e in line.events].index(second_delta)
        first_deltas = [
            e.audio
            for _, e in line.events[:second_at]
            if isinstance(e, ev.ResponseAudioDelta) and e.response_id == response_id
        ]
        # The mark that follows the first sentence's audio: wait until Twilio would reach it,
        # and echo it (and nothing after it) then.
        await eventually(lambda: len(phone.of("mark")) >= len(first_deltas))
        mark = phone.of("mark")[len(first_deltas) - 1].value
        assert phone.echoed == []
        await at_time(phone.marks[mark])
        phone.echo(mark)
        echoed_at = now()
        # In the same instant the caller starts talking over the reply.
        await phone.talk(speech(200, 8000, "pcmu"), paced=False)
        done = await line.wait_for(ev.ResponseDone)
        truncated = await line.wait_for(ev.ConversationItemTruncated)
        started = line.of(ev.InputAudioBufferSpeechStarted)[1]

    # The echoed mark follows the whole 20 ms frames sent before it; the sentence's last partial
    # frame was still waiting in the framer (it leaves after the mark), so it was not heard.
    frame_bytes = 20 * BYTES_PER_MS
    heard_bytes = len(b"".join(first_deltas)) // frame_bytes * frame_bytes
    heard_ms = heard_bytes / BYTES_PER_MS
    assert heard_ms > 0
    # Twilio was told to clear the moment speech was detected, before any more audio.
    (clear,) = phone.of("clear")
    assert clear.at == line.at(started) == echoed_at
    assert media_after(line, clear.at) == 0
    assert phone.sent.index(clear) == len(phone.sent) - 1
    # The reply was cancelled and cut to exactly what the echoed mark proves was heard.
    assert (done.response.status, done.response.reason) == ("cancelled", "turn_detected")
    assert fakes.llm.requests[0].closed  # the stalled LLM stream was let go
    part = assistant_part(done)
    assert (truncated.item_id, truncated.content_index) == (done.response.output[0].id, 0)
    assert truncated.audio_end_ms == int(heard_ms)
    assert part.audio == b"".join(first_deltas)[:heard_bytes]
    assert part.transcript == first.strip()


@virtual
async def test_no_barge_in_means_no_clear_and_the_reply_plays_to_its_end() -> None:
    """Regression: with ``interrupt_response`` off (a dialplan prompt with ``barge_in:
    false``) the caller's speech must not clear the carrier. Before the engine seam the call
    cleared Twilio on every start of speech, cutting such a prompt off."""
    fakes = Fakes()
    text = " ".join(split_sentences(HOURS * 2))  # about 1.7 s of speech
    async with phone_call(fakes) as line:
        session = line.call.session
        assert session is not None
        detection = session.config.turn_detection
        assert isinstance(detection, SemanticVad)  # calls default to the end-of-turn model
        assert not isinstance(detection, ServerVad)
        # What the dialplan interpreter sets for a prompt that must not be interrupted.
        session.reconfigure(
            dataclasses.replace(
                session.config,
                turn_detection=dataclasses.replace(
                    detection, create_response=False, interrupt_response=False
                ),
            )
        )
        session.say(text)
        await eventually(lambda: bool(line.phone.of("media")))
        await line.phone.speak(400, silence_ms=600)  # the caller talks over the prompt
        done = await line.wait_for(ev.ResponseDone)
        await line.played()

    phone = line.phone
    assert phone.of("clear") == []
    assert done.response.status == "completed"
    assert line.of(ev.ConversationItemTruncated) == []
    reply = wire(b"".join(line.deltas(done.response.id)))
    assert phone.audio() == reply
    assert phone.echoed == [s.value for s in phone.of("mark")]  # every mark played
    assert assistant_part(done).transcript == text
    # The caller really spoke over it: their turn began and ended while it was playing.
    (started,) = line.of(ev.InputAudioBufferSpeechStarted)
    (stopped,) = line.of(ev.InputAudioBufferSpeechStopped)
    first_audio = phone.of("media")[0].at
    assert first_audio < line.at(started) < line.at(stopped)
    assert line.at(stopped) < first_audio + len(reply) / BYTES_PER_MS / 1000
    assert len(line.of(ev.ResponseDone)) == 1  # the turn was heard, not answered


@virtual
async def test_an_llm_failure_is_answered_with_the_spoken_fallback() -> None:
    fallback = "Sorry, the line is bad. Please call again later."
    fakes = Fakes()
    fakes.llm.replies.append([TextDelta("Let me look that up. "), LLMError("connection reset")])
    async with phone_call(fakes, settings(fallback_message=fallback)) as line:
        await line.phone.speak(400, silence_ms=700)
        failed = await line.wait_for(ev.ResponseDone)
        apology = await line.wait_for(ev.ResponseDone, 2)
        await line.played()

    assert failed.response.status == "failed"
    assert failed.response.error is not None
    assert "connection reset" in failed.response.error.message
    assert apology.response.status == "completed"
    assert line.said() == ["Let me look that up.", fallback]
    assert len(line.fakes.llm.requests) == 1  # the fallback is spoken, not asked of the LLM
    spoken = [text for text, _ in line.fakes.tts.requests]
    assert spoken == ["Let me look that up.", *split_sentences(fallback)]
    # The caller heard what was said before the failure, then the fallback, to its end
    # (each reply's last frame padded on its own).
    before, after = (b"".join(line.deltas(r.response.id)) for r in (failed, apology))
    assert line.phone.audio() == wire(before) + wire(after)
    assert line.phone.of("clear") == []


@virtual
async def test_keyed_digits_reach_the_agent_as_text_once_the_caller_stops_typing() -> None:
    fakes = Fakes()
    fakes.llm.replies.append("You pressed four and two.")
    async with phone_call(fakes) as line:
        line.phone.press("4")
        await asyncio.sleep(0.5)  # the caller's next key, half a (virtual) second later
        line.phone.press("2")
        last_key = now()
        added = await line.wait_for(ev.ConversationItemAdded)
        done = await line.wait_for(ev.ResponseDone)
        await line.played()

    item = added.item
    assert isinstance(item, MessageItem)
    assert item.role == "user"
    assert item.content == [InputTextPart("[The caller pressed 4 2 on the keypad]")]
    # One entry, handed over exactly DTMF_SETTLE_S after the last key, not before.
    assert abs(line.at(added) - (last_key + call_module.DTMF_SETTLE_S)) < 1e-6
    (request,) = fakes.llm.requests
    assert request.user_text == "[The caller pressed 4 2 on the keypad]"
    assert done.response.status == "completed"
    assert line.said() == ["You pressed four and two."]
    assert line.phone.audio() == wire(b"".join(line.deltas(done.response.id)))
