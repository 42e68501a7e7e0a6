"""Faults around a phone call, on fake engines in virtual time: the TTS failing, the carrier's
socket dropping or resetting mid-reply, a carrier that never starts the call. The caller hears
the fallback or the call ends cleanly; a control call on the same engines keeps its audio; and
nothing a call started (tasks, the transport) outlives it."""

from __future__ import annotations

import asyncio

from call_harness import TwilioPhone, phone_call, settings, virtual
from fault_harness import CONTROL_REPLY, assert_kept_its_audio, until_true

from bridge.calls.call import START_TIMEOUT_S, Call
from bridge.carriers.twilio import TwilioCodec
from bridge.testing.fake_llm import FakeLLM
from bridge.testing.fakes import Fakes, FakeSTT, FakeTTS

FALLBACK = settings().fallback_message
LONG_REPLY = " ".join(
    f"Sentence number {n} of a long reply goes on for a while." for n in range(20)
)


class FailingTTS(FakeTTS):
    """Fails every clause that mentions ``word``, as a crashed TTS backend would."""

    def __init__(self, word: str) -> None:
        super().__init__()
        self.word = word

    async def _clause(self, clause: str) -> bytes:
        if self.word in clause:
            raise RuntimeError("injected: the TTS backend crashed")
        return await super()._clause(clause)


class ResettingPhone(TwilioPhone):
    """A carrier connection reset by the peer: receive and send raise."""

    def reset(self) -> None:
        self.closed = True
        self.was_reset = True
        self._inbox.put_nowait(None)

    async def receive(self):  # type: ignore[no-untyped-def]
        frame = await super().receive()
        if getattr(self, "was_reset", False):
            raise ConnectionResetError("injected: connection reset by peer")
        return frame


def pair(tts: FakeTTS, faulty_reply: str) -> tuple[Fakes, Fakes]:
    control = Fakes(stt=FakeSTT(["control question"]), tts=tts, llm=FakeLLM([CONTROL_REPLY]))
    faulty = Fakes(stt=FakeSTT(["fault question"]), tts=tts, llm=FakeLLM([faulty_reply]))
    return control, faulty


@virtual
async def test_a_failing_tts_is_answered_with_the_fallback_and_the_other_call_goes_on() -> None:
    tts = FailingTTS("explode")
    control_fakes, faulty_fakes = pair(tts, "This reply will explode when it is spoken.")
    async with phone_call(control_fakes) as control, phone_call(faulty_fakes) as faulty:
        await asyncio.gather(control.phone.speak(400), faulty.phone.speak(400))
        await control.said_and_played(CONTROL_REPLY)
        await faulty.said_and_played(FALLBACK)
        assert_kept_its_audio(control, tts.duration_ms(CONTROL_REPLY))
    assert faulty.task.exception() is None
    assert faulty.said()[-1] == FALLBACK  # the failed reply, then the apology
    assert len(faulty.said()) == 2


@virtual
async def test_the_carrier_socket_dropping_mid_reply_ends_that_call_only() -> None:
    tts = FakeTTS()
    before = asyncio.all_tasks()
    control_fakes, faulty_fakes = pair(tts, LONG_REPLY)
    async with phone_call(control_fakes) as control, phone_call(faulty_fakes) as faulty:
        await asyncio.gather(control.phone.speak(400), faulty.phone.speak(400))
        await until_true(lambda: bool(faulty.phone.of("media")), 30, "the reply started")
        await faulty.phone.close()  # the socket is gone: sends fail, receives end
        await faulty.ended(within_s=5)
        await control.said_and_played(CONTROL_REPLY)
        assert_kept_its_audio(control, tts.duration_ms(CONTROL_REPLY))
    assert faulty.task.exception() is None
    assert asyncio.all_tasks() == before  # nothing either call started is left running


@virtual
async def test_a_connection_reset_mid_reply_ends_the_call_cleanly() -> None:
    tts = FakeTTS()
    before = asyncio.all_tasks()
    control_fakes, faulty_fakes = pair(tts, LONG_REPLY)
    phone = ResettingPhone()
    call = Call(
        TwilioCodec(),
        phone,
        engines=faulty_fakes.engines(),
        settings=settings(),
        clock=asyncio.get_running_loop().time,
    )
    async with phone_call(control_fakes) as control:
        task = asyncio.create_task(call.run())
        phone.start()
        await asyncio.gather(control.phone.speak(400), phone.speak(400))
        await until_true(lambda: bool(phone.of("media")), 30, "the faulty reply started")
        phone.reset()
        async with asyncio.timeout(5):
            await task  # ends, and does not raise: a reset is how calls end on the internet
        await control.said_and_played(CONTROL_REPLY)
        assert_kept_its_audio(control, tts.duration_ms(CONTROL_REPLY))
    assert asyncio.all_tasks() == before


@virtual
async def test_a_call_the_carrier_never_starts_closes_its_transport() -> None:
    before = asyncio.all_tasks()
    phone = TwilioPhone()  # connects, then says nothing: a half-open connection
    call = Call(TwilioCodec(), phone, engines=Fakes().engines(), settings=settings())
    async with asyncio.timeout(START_TIMEOUT_S + 1):
        await call.run()
    assert phone.closed  # the connection is let go, not left to the peer
    assert asyncio.all_tasks() == before
