"""Responses on fake engines: cancel, tool calls, text only, queued says, truncate errors."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import numpy as np
import pytest
from engine_harness import (
    AudioPart,
    CommandError,
    Driver,
    FunctionCallItem,
    FunctionCallOutputItem,
    FunctionTool,
    MessageItem,
    ResponseParams,
    Start,
    ce,
    config,
    drivers,
    ev,
)

from bridge.pipeline.llm import LLMError, TextDelta
from bridge.testing.fakes import Fakes, FakeTTS, Hold, tool_call_reply, until

BYTES_PER_MS = 48  # pcm16 at 24 kHz, the default wire format
WEATHER = FunctionTool(
    "get_weather",
    "The weather in a city.",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


@pytest.fixture
def fakes() -> Fakes:
    return Fakes()


@pytest.fixture
async def start(fakes: Fakes) -> AsyncIterator[Start]:
    async with drivers(fakes) as start:
        yield start


async def spoken(driver: Driver, text: str) -> MessageItem:
    """``say(text)`` and wait for it to be sent; its assistant item."""
    driver.session.say(text)
    done = await driver.wait_for(ev.ResponseDone, len(driver.of(ev.ResponseDone)) + 1)
    item = done.response.output[0]
    assert isinstance(item, MessageItem)
    return item


async def test_response_cancel_from_the_client_closes_everything(
    start: Start, fakes: Fakes
) -> None:
    hold = Hold()
    fakes.llm.replies.append([TextDelta("Once upon a time. "), hold, TextDelta("The end.")])
    driver = start()
    await driver.say_user("Tell me a long story.")
    await until(hold.reached.is_set)
    await until(lambda: len(driver.audio_bytes()) == 170 * BYTES_PER_MS)  # the first clause
    (created_event,) = driver.of(ev.ResponseCreated)
    created = created_event.response

    with pytest.raises(CommandError) as wrong:
        await driver.send(ce.ResponseCancel("evt_wrong", "resp_other"))
    assert (wrong.value.code, wrong.value.param) == ("invalid_value", "response_id")
    assert wrong.value.event_id == "evt_wrong"
    assert driver.session.responding

    await driver.send(ce.ResponseCancel("evt_cancel", created.id))
    # Cancelled by the time handle() returns: response.done is already out.
    (done,) = driver.of(ev.ResponseDone)
    assert done.response.id == created.id
    assert (done.response.status, done.response.reason) == ("cancelled", "client_cancelled")
    (item,) = done.response.output
    assert isinstance(item, MessageItem)
    assert item.status == "incomplete"
    part = item.content[0]
    assert isinstance(part, AudioPart)
    assert part.transcript == "Once upon a time."
    assert part.audio == driver.audio_bytes()
    # Every open part and item was closed, in order, before response.done.
    closing = [
        ev.ResponseAudioDone,
        ev.ResponseAudioTranscriptDone,
        ev.ResponseContentPartDone,
        ev.ResponseOutputItemDone,
        ev.ConversationItemDone,
        ev.ResponseDone,
    ]
    assert driver.kinds(*closing, since=created_event) == closing
    assert driver.of(ev.ResponseOutputItemDone)[0].item is item
    assert fakes.llm.requests[0].closed
    assert not driver.session.responding

    with pytest.raises(CommandError) as again:
        await driver.send(ce.ResponseCancel(None))
    assert again.value.code == "response_cancel_not_active"


async def test_a_streamed_tool_call_becomes_a_function_call_item(
    start: Start, fakes: Fakes
) -> None:
    arguments = {"city": "Paris"}
    fakes.llm.replies.append(tool_call_reply("get_weather", arguments, call_id="call_w1"))
    fakes.llm.replies.append("It is sunny in Paris.")
    driver = start(config(tools=(WEATHER,)))
    await driver.say_user("What is the weather in Paris?")
    done = await driver.wait_for(ev.ResponseDone)

    (request,) = fakes.llm.requests
    assert [tool["function"]["name"] for tool in request.tools] == ["get_weather"]
    assert request.tools[0]["function"]["parameters"] == WEATHER.parameters
    assert request.tool_choice == "auto"
    assert done.response.status == "completed"
    (call,) = done.response.output
    assert isinstance(call, FunctionCallItem)
    assert (call.name, call.call_id, call.status) == ("get_weather", "call_w1", "completed")
    assert json.loads(call.arguments) == arguments
    deltas = driver.of(ev.ResponseFunctionCallArgumentsDelta)
    assert len(deltas) == 2
    assert "".join(d.delta for d in deltas) == call.arguments
    (args_done,) = driver.of(ev.ResponseFunctionCallArgumentsDone)
    assert (args_done.item_id, args_done.name, args_done.arguments) == (
        call.id,
        "get_weather",
        call.arguments,
    )
    assert driver.of(ev.ResponseAudioDelta) == []
    assert call in driver.session.history

    # The client runs the tool and asks again: the LLM sees the call and its output.
    output = FunctionCallOutputItem("call_w1", json.dumps({"sky": "sunny"}))
    await driver.send(ce.ConversationItemCreate(None, output))
    await driver.send(ce.ResponseCreate(None, ResponseParams()))
    second = await driver.wait_for(ev.ResponseDone, 2)
    assert second.response.status == "completed"
    messages = fakes.llm.requests[1].messages
    assert messages[-2]["tool_calls"][0]["id"] == "call_w1"
    assert messages[-1] == {"role": "tool", "tool_call_id": "call_w1", "content": output.output}
    answer = second.response.output[0]
    assert isinstance(answer, MessageItem)
    part = answer.content[0]
    assert isinstance(part, AudioPart)
    assert part.transcript == "It is sunny in Paris."


async def test_a_text_only_response_streams_text_and_no_audio(start: Start, fakes: Fakes) -> None:
    fakes.llm.replies.append("We open at nine. We close at five.")
    driver = start(config(output_modalities=("text",)))
    await driver.say_user("When are you open?")
    done = await driver.wait_for(ev.ResponseDone)
    assert done.response.status == "completed"
    deltas = driver.of(ev.ResponseTextDelta)
    assert len(deltas) > 1  # streamed as the LLM wrote it
    assert "".join(d.delta for d in deltas) == "We open at nine. We close at five."
    (text_done,) = driver.of(ev.ResponseTextDone)
    assert text_done.text == "We open at nine. We close at five."
    assert driver.of(ev.ResponseAudioDelta) == []
    assert driver.of(ev.ResponseAudioTranscriptDelta) == []
    assert fakes.tts.requests == []


async def test_say_while_a_response_is_active_waits_for_it(start: Start, fakes: Fakes) -> None:
    hold = Hold()
    fakes.llm.replies.append([TextDelta("Let me check. "), hold, TextDelta("All done.")])
    driver = start()
    await driver.say_user("Check my order.")
    await until(hold.reached.is_set)

    driver.session.say("One moment please.")
    await until(lambda: len(driver.audio_bytes()) > 0)
    assert len(driver.of(ev.ResponseCreated)) == 1  # queued behind the active response

    hold.release()
    second = await driver.wait_for(ev.ResponseDone, 2)
    first = driver.of(ev.ResponseDone)[0]
    assert first.response.status == second.response.status == "completed"
    created = driver.of(ev.ResponseCreated)
    assert [c.response.id for c in created] == [first.response.id, second.response.id]
    assert driver.events.index(first) < driver.events.index(created[1])  # one after the other
    assert len(fakes.llm.requests) == 1  # said, not generated
    transcripts = [t.transcript for t in driver.of(ev.ResponseAudioTranscriptDone)]
    assert transcripts == ["Let me check. All done.", "One moment please."]
    roles = [item.role for item in driver.session.history if isinstance(item, MessageItem)]
    assert roles == ["user", "assistant", "assistant"]


async def test_an_llm_failure_fails_the_response(start: Start, fakes: Fakes) -> None:
    fakes.llm.replies.append([TextDelta("Well, "), LLMError("the endpoint went away")])
    driver = start()
    await driver.say_user("Hello?")
    done = await driver.wait_for(ev.ResponseDone)
    assert done.response.status == "failed"
    assert done.response.error is not None
    assert "went away" in str(done.response.error.message)
    (error,) = driver.of(ev.ErrorEvent)
    assert error.error_type == "server_error"


async def test_truncate_checks_the_item_part_and_length(start: Start, fakes: Fakes) -> None:
    driver = start()
    item = await spoken(driver, "Hello there. How are you today?")  # 120 + 180 ms
    part = item.content[0]
    assert isinstance(part, AudioPart)
    audio = part.audio
    assert audio is not None
    assert len(audio) == 300 * BYTES_PER_MS
    user = driver.session.add_user_text("Fine, thanks.")

    bad = [
        (ce.ConversationItemTruncate("e1", user.id, 0, 10), "item_id"),
        (ce.ConversationItemTruncate("e2", "item_missing", 0, 10), "item_id"),
        (ce.ConversationItemTruncate("e3", item.id, 1, 10), "content_index"),
        (ce.ConversationItemTruncate("e4", item.id, 0, 400), "audio_end_ms"),
    ]
    for event, param in bad:
        with pytest.raises(CommandError) as rejected:
            await driver.send(event)
        assert rejected.value.param == param, event
        assert rejected.value.event_id == event.event_id
    with pytest.raises(CommandError, match="shorter than 400ms"):
        await driver.send(ce.ConversationItemTruncate(None, item.id, 0, 400))
    assert driver.of(ev.ConversationItemTruncated) == []
    assert part.audio == audio  # nothing changed
    assert part.transcript == "Hello there. How are you today?"

    await driver.send(ce.ConversationItemTruncate("e5", item.id, 0, 120))
    (truncated,) = driver.of(ev.ConversationItemTruncated)
    assert (truncated.item_id, truncated.content_index, truncated.audio_end_ms) == (item.id, 0, 120)
    assert part.audio == audio[: 120 * BYTES_PER_MS]
    assert part.transcript == "Hello there."


async def test_a_full_conversation_fails_the_response_as_the_clients_error(
    start: Start, fakes: Fakes
) -> None:
    # Found by the long realtime session fuzz: a conversation at its item cap made the reply's
    # item raise CommandError inside the response, reported as an engine crash (server_error,
    # with a traceback at error level), and a phone call answered that by saying its fallback,
    # which failed the same way.
    driver = start()
    driver.session.history._max_items = 1  # the user's item fills it
    await driver.say_user("Hello?")
    done = await driver.wait_for(ev.ResponseDone)
    assert done.response.status == "failed"
    assert done.response.error is not None
    assert done.response.error.type == "invalid_request_error"
    assert "at most 1 items" in str(done.response.error.message)
    (error,) = driver.of(ev.ErrorEvent)
    assert error.error_type == "invalid_request_error"
    assert error.code != "engine_error"


class LeadInTTS(FakeTTS):
    """A voice that opens every clause with 40 ms of near-silence, as Piper does."""

    def pcm(self, clause: str) -> bytes:
        hush = (np.arange(self.sample_rate * 40 // 1000) % 3 - 1).astype("<i2").tobytes()
        return hush + super().pcm(clause)


async def test_a_replys_first_word_is_not_kept_waiting_by_the_voices_lead_in() -> None:
    fakes = Fakes(tts=LeadInTTS())
    async with drivers(fakes) as start:
        driver = start()
        first = await spoken(driver, "Hello there. How are you?")
    clauses = [fakes.tts.pcm(c) for c in ("Hello there.", "How are you?")]
    audio = driver.audio_bytes()
    # The reply's opening lead-in is cut to 10 ms; the pause before its next clause stays.
    assert len(audio) == sum(map(len, clauses)) - 30 * BYTES_PER_MS
    assert audio[: 10 * BYTES_PER_MS] == clauses[0][30 * BYTES_PER_MS : 40 * BYTES_PER_MS]
    assert audio.endswith(clauses[1])
    assert first.content[0].transcript == "Hello there. How are you?"
