"""A finished call is garbage: nothing in the process (hooks, observers, metrics, caches,
the engines shared by every call) keeps its Call or its conversation alive. A soak's memory
can only grow if something does; this finds it in milliseconds, where the soak takes minutes
and cannot tell a kept object from allocator noise."""

from __future__ import annotations

import gc
import weakref

from call_harness import phone_call, virtual

from bridge.engine import events as ev
from bridge.testing.fakes import Fakes

HOURS = "We are open from nine to five. On Saturdays we open at ten."


@virtual
async def test_calls_that_ended_leave_no_call_or_conversation_behind() -> None:
    fakes = Fakes()  # one set of engines for every call, as in the bridge
    kept: list[weakref.ref[object]] = []
    for n in range(3):
        fakes.stt.transcripts.append(f"When are you open, question {n}?")
        fakes.llm.replies.append(HOURS)
        async with phone_call(fakes) as line:
            await line.phone.speak(400, silence_ms=700)
            done = await line.wait_for(ev.ResponseDone)
            await line.played()
            assert done.response.status == "completed"
            kept += [weakref.ref(line.call), weakref.ref(line.call.session)]
        del line, done
    gc.collect()
    alive = [ref() for ref in kept if ref() is not None]
    assert alive == [], [
        [type(r).__name__ for r in gc.get_referrers(obj) if r is not kept] for obj in alive
    ]
