"""A call whose conversation is full (its item cap) gets a failed reply and nothing more: the
refusal is the conversation's, so the spoken fallback, which would be refused the same way,
is not tried (it was, in a loop of failing responses)."""

from __future__ import annotations

import pytest
from call_harness import at_time, now, phone_call, settings, virtual

from bridge.engine import events as ev
from bridge.testing.fakes import Fakes


@pytest.mark.timeout(30, method="signal")  # the old code failed responses without end
@virtual
async def test_a_full_conversation_fails_the_reply_once_without_the_fallback() -> None:
    fakes = Fakes()
    fakes.stt.transcripts.append("Hello?")
    call_settings = settings(fallback_message="Sorry, something went wrong.")
    async with phone_call(fakes, call_settings) as line:
        assert line.call.session is not None
        line.call.session.history._max_items = 1  # type: ignore[attr-defined]  # the caller's turn fills it
        await line.phone.speak(400, silence_ms=700)
        done = await line.wait_for(ev.ResponseDone)
        await at_time(now() + 5)
        responses = line.of(ev.ResponseDone)
    assert done.response.status == "failed"
    assert done.response.error is not None
    assert done.response.error.type == "invalid_request_error"
    assert len(responses) == 1, [r.response.status for r in responses]
    assert fakes.tts.requests == []  # nothing was said
