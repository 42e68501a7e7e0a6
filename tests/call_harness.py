"""A phone call on fake engines, in virtual time: a real :class:`~bridge.calls.call.Call` with
the Twilio codec, talking to an in-memory Twilio (:class:`TwilioPhone`).

Time is virtual (:func:`run_virtual`): the event loop's clock jumps to the next timer whenever
nothing is ready to run, so the call's pacing (20 ms frames on deadlines), the carrier's
playout, the DTMF settle time and a dialplan's timeouts all run as they would on a real call,
to the microsecond and deterministically, in milliseconds of real time. The call is given the
loop's clock, so the pacer, the marks and the phone share one time line.

Used by ``tests/calls`` and ``tests/dialplan`` (a module beside the root ``conftest.py``, which
puts this folder on ``sys.path``; not a ``conftest.py`` of its own, which would shadow that one).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import selectors
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from bridge.calls.call import Call, CallHooks
from bridge.carriers.base import CallStarted, Frame
from bridge.carriers.twilio import TwilioCarrierSide, TwilioCodec
from bridge.config import Settings
from bridge.engine import events as ev
from bridge.engine.items import AudioPart, MessageItem
from bridge.testing.fakes import Fakes, silence, speech

T = TypeVar("T")
P = ParamSpec("P")
E = TypeVar("E", bound=ev.EngineEvent)

RATE = 8000  # Twilio: μ-law at 8 kHz, one byte a sample
BYTES_PER_MS = RATE // 1000
FRAME_BYTES = 160  # 20 ms
VIRTUAL_LIMIT_S = 600.0  # a scenario that has not finished after this much virtual time hangs


# --- virtual time ------------------------------------------------------------------------


class _JumpingSelector(selectors.DefaultSelector):  # type: ignore[misc,valid-type]
    """Never blocks: when the loop would sleep until its next timer, the clock jumps there."""

    loop: VirtualTimeLoop

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready: list[tuple[selectors.SelectorKey, int]] = super().select(0)
        if ready or (timeout is not None and timeout <= 0):
            return ready
        if timeout is None:
            # Nothing is ready and no timer is set: every task waits for something that will
            # never come (there are no threads or sockets here to wake the loop).
            raise RuntimeError("deadlock: every task is waiting and no timer is set")
        self.loop.advance(timeout)
        return ready


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop on a virtual clock starting at 0 (see the module docstring)."""

    def __init__(self) -> None:
        self._now = 0.0
        selector = _JumpingSelector()
        selector.loop = self
        super().__init__(selector)

    def time(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds


def run_virtual(scenario: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``scenario()`` to its end on a :class:`VirtualTimeLoop`."""

    async def bounded() -> T:
        limit = asyncio.timeout(VIRTUAL_LIMIT_S)
        try:
            async with limit:
                return await scenario()
        except TimeoutError as timeout:
            if limit.expired():  # everything waits for something that never comes
                message = f"still running after {VIRTUAL_LIMIT_S} s of virtual time"
                raise AssertionError(message) from timeout
            raise

    with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
        return runner.run(bounded())


def virtual(test: Callable[P, Coroutine[Any, Any, None]]) -> Callable[P, None]:
    """Make an ``async def`` test a plain one that runs in virtual time (its fixtures are
    created outside the loop: they must not be async)."""

    @functools.wraps(test)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        run_virtual(lambda: test(*args, **kwargs))

    return run


def now() -> float:
    return asyncio.get_running_loop().time()


async def at_time(moment: float) -> None:
    """Sleep (virtually) until ``moment``."""
    await asyncio.sleep(max(0.0, moment - now()))


async def eventually(
    condition: Callable[[], bool], *, within_s: float = 30.0, step_s: float = 0.001
) -> None:
    """Wait, in virtual time, until ``condition()`` holds (checked every ``step_s``); fail
    once ``within_s`` of virtual time has passed without it."""
    deadline = now() + within_s
    while not condition():
        if now() >= deadline:
            raise AssertionError(f"condition still false after {within_s} s of virtual time")
        await asyncio.sleep(step_s)


# --- the carrier -------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    """A frame the bridge sent, as Twilio read it, and when (virtual seconds)."""

    at: float
    kind: str  # "media", "mark" or "clear"
    value: Any  # the μ-law audio, the mark's name, or None


class TwilioPhone:
    """Twilio's side of one media stream, as the call's :class:`~bridge.calls.call.Transport`.

    Frames the test queues (:meth:`start`, :meth:`talk`, :meth:`press`, :meth:`echo`, ...)
    are what the bridge receives; every frame the bridge sends is parsed and kept in ``sent``.
    Audio plays in real time from when it arrives (or from the end of the audio before it).
    With ``echo_marks`` each mark is echoed when playback reaches it, as Twilio does; without,
    marks wait in ``marks`` (with the time each would be reached) for the test to echo. A
    ``clear`` drops what has not played and echoes the marks still pending, as Twilio does.
    """

    def __init__(self, *, echo_marks: bool = True) -> None:
        self.side = TwilioCarrierSide()
        self.echo_marks = echo_marks
        self.sent: list[Sent] = []
        self.marks: dict[str, float] = {}  # mark name -> when playback reaches it
        self.echoed: list[str] = []
        self.closed = False
        self._inbox: asyncio.Queue[Frame | None] = asyncio.Queue()
        self.audio_end = 0.0  # when the audio received so far has played
        self._timers: dict[str, asyncio.TimerHandle] = {}

    # --- the bridge's transport ----------------------------------------------------------

    async def receive(self) -> Frame | None:
        if self.closed:
            return None
        return await self._inbox.get()

    async def send(self, frame: Frame) -> None:
        if self.closed:
            raise ConnectionError("the stream is closed")
        at = now()
        kind, value = self.side.parse(frame)
        self.sent.append(Sent(at, kind, value))
        if kind == "media":
            self.audio_end = max(self.audio_end, at) + len(value) / RATE
        elif kind == "mark":
            reached = max(self.audio_end, at)
            self.marks[value] = reached
            if self.echo_marks:
                loop = asyncio.get_running_loop()
                self._timers[value] = loop.call_at(reached, self._echo_now, value)
        elif kind == "clear":
            self.audio_end = at
            for name in [n for n in self.marks if n not in self.echoed]:
                self._echo_now(name)  # Twilio returns the marks that will now never play

    async def close(self) -> None:
        self.closed = True
        self._inbox.put_nowait(None)

    # --- what Twilio sends -----------------------------------------------------------------

    def start(self) -> None:
        self._inbox.put_nowait(self.side.connected())
        self._inbox.put_nowait(self.side.start())

    async def talk(self, audio: bytes, *, paced: bool = True) -> None:
        """Send the caller's μ-law audio in 20 ms media messages, one every 20 ms (``paced``)
        or all at once (they then arrive within one instant)."""
        for offset in range(0, len(audio), FRAME_BYTES):
            self._inbox.put_nowait(self.side.media(audio[offset : offset + FRAME_BYTES]))
            if paced:
                await asyncio.sleep(FRAME_BYTES / RATE)

    async def speak(self, speech_ms: int, silence_ms: int = 700) -> None:
        """A turn: ``speech_ms`` of (fake) speech, then ``silence_ms`` of silence, paced."""
        await self.talk(speech(speech_ms, RATE, "pcmu") + silence(silence_ms, RATE, "pcmu"))

    def press(self, digit: str) -> None:
        self._inbox.put_nowait(self.side.dtmf(digit))

    def echo(self, name: str) -> None:
        """Echo a mark now (the test says when it played)."""
        self._echo_now(name)

    def hang_up(self) -> None:
        if not self.closed:
            self._inbox.put_nowait(self.side.stop())

    def _echo_now(self, name: str) -> None:
        timer = self._timers.pop(name, None)
        if timer is not None:
            timer.cancel()
        if name in self.echoed or self.closed:
            return
        self.echoed.append(name)
        self._inbox.put_nowait(self.side.mark(name))

    # --- what was sent ---------------------------------------------------------------------

    def of(self, kind: str) -> list[Sent]:
        return [s for s in self.sent if s.kind == kind]

    def audio(self, since: float = 0.0, until: float = float("inf")) -> bytes:
        """The audio sent from ``since`` until (not including) ``until``, joined."""
        return b"".join(s.value for s in self.of("media") if since <= s.at < until)

    def kinds(self) -> list[str]:
        """The kinds of frame sent, in order, with runs of one kind shown once."""
        kinds: list[str] = []
        for s in self.sent:
            if not kinds or kinds[-1] != s.kind:
                kinds.append(s.kind)
        return kinds

    @property
    def playing(self) -> bool:
        return self.audio_end > now()


# --- the call ----------------------------------------------------------------------------


class RecordingControl:
    """Call control that records what the call asked for, and when; hanging up or
    transferring ends the stream."""

    def __init__(self, phone: TwilioPhone) -> None:
        self.phone = phone
        self.actions: list[tuple[str, str]] = []
        self.times: list[float] = []

    def _record(self, action: str, argument: str = "") -> None:
        self.actions.append((action, argument))
        self.times.append(now())

    async def hangup(self) -> None:
        self._record("hangup")
        await self.phone.close()

    async def transfer(self, target: str) -> None:
        self._record("transfer", target)
        await self.phone.close()

    async def send_dtmf(self, digits: str) -> None:
        self._record("send_dtmf", digits)


@dataclass
class Line:
    """A call in progress: the phone, the call, and every engine event with its time."""

    phone: TwilioPhone
    call: Call
    fakes: Fakes
    control: RecordingControl
    task: asyncio.Task[None]
    events: list[tuple[float, ev.EngineEvent]] = field(default_factory=list)

    def of(self, kind: type[E]) -> list[E]:
        return [event for _, event in self.events if isinstance(event, kind)]

    def at(self, event: ev.EngineEvent) -> float:
        """When ``event`` was emitted."""
        return next(t for t, e in self.events if e is event)

    async def wait_for(self, kind: type[E], count: int = 1, within_s: float = 30.0) -> E:
        """The ``count``-th event of ``kind``, once it has been emitted."""
        await eventually(lambda: len(self.of(kind)) >= count, within_s=within_s)
        return self.of(kind)[count - 1]

    def deltas(self, response_id: str) -> list[bytes]:
        return [d.audio for d in self.of(ev.ResponseAudioDelta) if d.response_id == response_id]

    def said(self) -> list[str]:
        """The transcript of each response that finished, in order."""
        return [
            part.transcript
            for done in self.of(ev.ResponseDone)
            for item in done.response.output
            if isinstance(item, MessageItem)
            for part in item.content
            if isinstance(part, AudioPart)
        ]

    async def said_and_played(self, text: str, within_s: float = 30.0) -> None:
        """Wait until ``text`` has been said (a response with that transcript is done) and
        everything sent so far has played."""
        await eventually(lambda: text in self.said(), within_s=within_s)
        await self.played(within_s)

    async def ended(self, within_s: float = 60.0) -> None:
        """Wait for the call to end (someone hung up)."""
        async with asyncio.timeout(within_s):
            await asyncio.shield(self.task)

    async def played(self, within_s: float = 30.0) -> None:
        """Wait until everything the bridge has sent has played at the phone."""
        await eventually(
            lambda: (
                self.call.session is not None
                and not self.call.session.responding
                and not self.phone.playing
            ),
            within_s=within_s,
        )


def settings(**changes: Any) -> Settings:
    """Settings for a fake call: no greeting, the agent answers (no dialplan files)."""
    return Settings(**{"greeting": "", "default_dialplan": "agent", **changes})


@contextlib.asynccontextmanager
async def phone_call(
    fakes: Fakes,
    call_settings: Settings | None = None,
    *,
    echo_marks: bool = True,
    controller: Callable[[Call], Awaitable[Any]] | None = None,
) -> AsyncIterator[Line]:
    """Start a Twilio call on ``fakes``; yields once its conversation exists; on leaving the
    caller hangs up (if nobody did) and the call is awaited to its end."""
    phone = TwilioPhone(echo_marks=echo_marks)
    control = RecordingControl(phone)
    events: list[tuple[float, ev.EngineEvent]] = []
    hooks = CallHooks(on_event=[lambda event: events.append((now(), event))])

    def make_control(call: Call, started: CallStarted) -> RecordingControl:
        return control

    call = Call(
        TwilioCodec(),
        phone,
        engines=fakes.engines(),
        settings=call_settings or settings(),
        clock=asyncio.get_running_loop().time,
        hooks=hooks,
        control=make_control,
        controller=controller,
    )
    task = asyncio.create_task(call.run())
    phone.start()
    await eventually(lambda: call.session is not None)
    line = Line(phone, call, fakes, control, task, events)
    try:
        yield line
    finally:
        phone.hang_up()
        async with asyncio.timeout(5):
            await task
