"""A misbehaving LLM endpoint (error statuses, a hang, a stalled or dropped stream, malformed
or wrongly shaped events, a slow trickle): the caller hears the fallback message (or, for a
slow but working endpoint, the reply), the call ends cleanly, and a control call on the same
engines and the same LLM client keeps its audio throughout."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from call_harness import phone_call, settings
from fault_harness import CONTROL_REPLY, assert_kept_its_audio, until_true

from bridge.pipeline.llm import ChatLLM
from bridge.testing.fakes import Fakes, FakeSTT, FakeTTS
from bridge.testing.faulty_llm import Fault, FaultyLLM
from bridge.testing.serve import serve_app

TIMEOUT_S = 1.0  # BRIDGE_LLM_TIMEOUT_S for these calls: a hang costs a second, not five
FALLBACK = settings().fallback_message


@pytest.fixture
async def faulty_llm(request: pytest.FixtureRequest) -> AsyncIterator[tuple[FaultyLLM, ChatLLM]]:
    llm = FaultyLLM(request.param, reply=CONTROL_REPLY)
    async with serve_app(llm.app()) as url:
        client = ChatLLM(base_url=f"{url}/v1", api_key="", model="faulty", timeout_s=TIMEOUT_S)
        yield llm, client
        await client.close()


FAULTS: list[Fault] = [
    "http_500",
    "http_429",
    "hang",
    "stall",
    "malformed_sse",
    "wrong_shape",
    "drop",
]


async def run_pair(client: ChatLLM) -> tuple[list[str], list[str], int]:
    """A faulty call and a control call at once on shared engines; returns what each said and
    the control reply's length (ms)."""
    tts = FakeTTS(ms_per_char=5)  # the control reply: 1.2 s of audio
    control_fakes = Fakes(stt=FakeSTT(["control question"]), tts=tts, llm=client)  # type: ignore[arg-type]
    faulty_fakes = Fakes(stt=FakeSTT(["fault question"]), tts=tts, llm=client)  # type: ignore[arg-type]
    reply_ms = tts.duration_ms(CONTROL_REPLY)
    async with phone_call(control_fakes) as control, phone_call(faulty_fakes) as faulty:
        await asyncio.gather(control.phone.speak(400), faulty.phone.speak(400))
        await until_true(lambda: CONTROL_REPLY in control.said(), 15, "the control reply")
        await until_true(lambda: bool(faulty.said()), 15, "the faulty call's answer")
        await until_true(lambda: not control.phone.playing, 15, "the control reply played")
        assert_kept_its_audio(control, reply_ms)
        assert not control.task.done()  # the control call is still there
    # Both calls ended cleanly when their callers hung up (phone_call awaits them).
    assert control.task.exception() is None
    assert faulty.task.exception() is None
    return control.said(), faulty.said(), reply_ms


@pytest.mark.parametrize("faulty_llm", FAULTS, indirect=True)
async def test_a_failing_llm_is_answered_with_the_fallback_and_the_other_call_goes_on(
    faulty_llm: tuple[FaultyLLM, ChatLLM],
) -> None:
    llm, client = faulty_llm
    _, faulty_said, _ = await run_pair(client)
    # What the caller heard: the fallback (a reply cut before its first clause says nothing).
    assert [text for text in faulty_said if text] == [FALLBACK]
    assert any("fault" in r for r in llm.requests)


@pytest.mark.parametrize("faulty_llm", ["trickle"], indirect=True)
async def test_a_slow_trickle_within_the_timeout_is_spoken_in_full(
    faulty_llm: tuple[FaultyLLM, ChatLLM],
) -> None:
    _, client = faulty_llm
    _, faulty_said, _ = await run_pair(client)
    assert faulty_said == [CONTROL_REPLY]  # slow, but each wait is within the timeout


@pytest.mark.parametrize("faulty_llm", ["no_done"], indirect=True)
async def test_a_stream_that_just_stops_is_spoken_as_far_as_it_went(
    faulty_llm: tuple[FaultyLLM, ChatLLM],
) -> None:
    # No finish reason and no [DONE], but a clean end of the HTTP response: indistinguishable
    # from a short reply, so what arrived is said (a dropped connection fails, see above).
    _, client = faulty_llm
    _, faulty_said, _ = await run_pair(client)
    assert faulty_said == ["Well, and then"]
