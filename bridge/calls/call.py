"""One phone call: a carrier codec and its transport joined to the conversation engine.

The call owns the clocks. Frames go through the codec into the conversation (audio, digits);
its events come back through ``emit``, audio out through :class:`~bridge.media.outbound.
OutboundAudio` (20 ms frames on deadlines, marks so the carrier says what was heard). The
engine decides barge-in through the call's :class:`~bridge.calls.listener.PhoneListener`
(read what was heard, clear the carrier, play a paused reply on); the call never decides.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol

from bridge.audio.format import AudioFormat
from bridge.calls.control import CallControl, ControlFailed, ControlUnsupported, InBandControl
from bridge.calls.frames import carrier_frames
from bridge.calls.listener import PhoneListener
from bridge.calls.tools import BUILTIN_TOOLS, tool_arguments
from bridge.carriers.base import (
    AudioCleared,
    CallEnded,
    CallEvent,
    CallStarted,
    CarrierCodec,
    CarrierProtocolError,
    DtmfReceived,
    Frame,
    MarkPlayed,
    MediaReceived,
)
from bridge.config import Settings
from bridge.engine import events as ev
from bridge.engine.commands import AppendAudio
from bridge.engine.config import SessionConfig, call_turn_detection
from bridge.engine.conversation import Conversation
from bridge.engine.errors import SERVER_ERROR
from bridge.engine.items import FunctionCallItem, FunctionCallOutputItem
from bridge.engine.response import ResponseParams
from bridge.engine.session import LocalConversation
from bridge.logging import bind_call, get_logger
from bridge.media.outbound import OutboundAudio
from bridge.pipeline.engines import Engines
from bridge.upstream.relay import RelayConversation

log = get_logger("bridge.calls")
START_TIMEOUT_S = 10.0  # a carrier that never says which call this is gets dropped
DTMF_SETTLE_S = 1.5  # digits typed within this gap are one entry
DEFAULT_LEAD_MS = 300  # queued at a carrier that buffers: a 200 ms loop stall is no gap
URGENT_SEND_TIMEOUT_S = 2.0  # how long a hang-up waits for its frame to be written
DEFAULT_BURST_MS = 100  # frames sent per wake-up of the sender (see bridge.media.pacer)


ToolHandler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
ENDING_TOOLS = frozenset({"end_call", "transfer_call", "goto_node"})


class Transport(Protocol):
    """The carrier connection: a WebSocket or a TCP stream."""

    async def receive(self) -> Frame | None:
        """The next frame, or None once the peer has gone."""
        ...

    async def send(self, frame: Frame) -> None: ...

    async def close(self) -> None: ...


@dataclass
class CallHooks:
    """What the rest of the bridge may observe (dialplans, tests)."""

    on_start: list[Callable[[CallStarted], None]] = field(default_factory=list)
    on_dtmf: list[Callable[[str], None]] = field(default_factory=list)
    on_event: list[Callable[[ev.EngineEvent], None]] = field(default_factory=list)
    on_audio: list[Callable[[bytes], None]] = field(default_factory=list)  # caller's wire audio


class Call:
    def __init__(
        self,
        codec: CarrierCodec,
        transport: Transport,
        *,
        engines: Engines,
        settings: Settings,
        clock: Callable[[], float] = time.monotonic,
        hooks: CallHooks | None = None,
        control: Callable[[Call, CallStarted], CallControl] | None = None,
        controller: Callable[[Call], Awaitable[Any]] | None = None,
    ) -> None:
        """``controller`` runs the call's flow (a dialplan); without one the agent greets the
        caller and answers every turn."""
        self.codec = codec
        self.transport = transport
        self.hooks = hooks or CallHooks()
        self.started: CallStarted | None = None
        self.session: Conversation | None = None
        self._engines = engines
        self._settings = settings
        self._clock = clock
        self._outbound: OutboundAudio | None = None  # known once the call has started
        self._media: AudioFormat | None = None
        self._urgent: list[Frame] = []  # frames that jump the pacing queue (clear, hangup)
        self._urgent_sent = asyncio.Event()  # set whenever the urgent queue has been written
        self._wake = asyncio.Event()
        self._all_sent = asyncio.Event()  # set while the pacing queue is empty
        self._all_sent.set()
        self._digits: list[str] = []
        self._digit_timer: asyncio.TimerHandle | None = None
        self._ended = asyncio.Event()
        self._make_control = control
        self._controller = controller
        self.control: CallControl = InBandControl(
            codec.hangup, self._send_now, transport.close, carrier=codec.name
        )
        self._tasks: set[asyncio.Task[None]] = set()
        # The agent's tools by name; a dialplan adds webhook tools and goto_node.
        self.tool_handlers: dict[str, ToolHandler] = {
            "end_call": self._end_call,
            "transfer_call": self._transfer,
            "send_dtmf": self._send_dtmf,
        }
        self.answer_digits = True  # keyed digits go to the agent (a dialplan takes them itself)

    # --- lifecycle -----------------------------------------------------------------------

    async def run(self, started: CallStarted | None = None) -> None:
        """Serve the call until the carrier hangs up or the connection drops. ``started`` is
        given when signalling announced the call (SIP); carriers announce it in-band."""
        if started is None:
            try:
                async with asyncio.timeout(START_TIMEOUT_S):
                    started = await self._await_start()
            except OSError as exc:  # no start in time (a TimeoutError), or a reset connection
                log.warning("carrier sent no start", carrier=self.codec.name, error=repr(exc))
                started = None
        if started is None:
            with contextlib.suppress(Exception):
                await self.transport.close()  # never started: the connection is let go too
            return
        with bind_call(call_id=started.call_id or "unknown", carrier=self.codec.name):
            await self._serve(started)

    async def _await_start(self) -> CallStarted | None:
        while (frame := await self.transport.receive()) is not None:
            for event in self._parse(frame):
                if isinstance(event, CallStarted):
                    return event
                if isinstance(event, CallEnded):
                    return None
        return None

    async def _serve(self, started: CallStarted) -> None:
        self.started = started
        if self._make_control is not None:
            self.control = self._make_control(self, started)
        self._media = started.media
        self._outbound = self._outbound_for(started.media)
        session = self._new_session(started.media)
        self.session = session
        log.info("call started", media=started.media.encoding, rate=started.media.sample_rate)
        for hook in self.hooks.on_start:
            hook(started)
        session.start()
        sender = asyncio.create_task(self._send_loop())
        try:
            if self._controller is not None:
                self._spawn(self._control_flow(self._controller))
            elif self._settings.greeting:
                session.say(self._settings.greeting)
            async with asyncio.timeout(self._settings.max_session_s):
                await self._receive_loop(session)
        except TimeoutError:
            log.info("call reached its maximum duration")
        except OSError as exc:  # reset by the peer: how calls end on the internet, too
            log.info("connection lost", error=str(exc))
        finally:
            self._ended.set()
            if self._digit_timer is not None:
                self._digit_timer.cancel()
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await session.close()
            sender.cancel()
            try:
                await sender
            except asyncio.CancelledError:
                pass
            except Exception as exc:  # a dropped socket fails the send: the call is over anyway
                log.info("sending stopped", error=str(exc))
            with contextlib.suppress(Exception):
                await self.transport.close()
            log.info("call ended")

    def _outbound_for(self, media: AudioFormat) -> OutboundAudio:
        codec = self.codec
        # Carriers that batch audio into chunks (Exotel) need that much more lead.
        lead_ms = int(getattr(codec, "lead_ms", DEFAULT_LEAD_MS))  # RTP sends in real time
        return OutboundAudio(
            media.frame_bytes,
            media.silence,
            media.bytes_per_ms,
            lead_ms=lead_ms + int(getattr(codec, "chunk_ms", 0)),
            burst_ms=int(getattr(codec, "burst_ms", DEFAULT_BURST_MS)),
            acks=codec.playout_acks == "mark",
        )

    def _new_session(self, media: AudioFormat) -> Conversation:
        settings = self._settings
        assert self._outbound is not None
        listener = PhoneListener(self._outbound, self._clock, self._clear_carrier, self._replay)
        if settings.relay_url:
            return RelayConversation(
                url=settings.relay_url,
                api_key=settings.relay_api_key,
                media=media,
                emit=self._on_session_event,
                listener=listener,
                instructions=settings.system_prompt,
                voice=settings.relay_voice,
                tools=BUILTIN_TOOLS,
            )
        return LocalConversation(
            engines=self._engines,
            settings=settings.conversation,
            emit=self._on_session_event,
            config=self._session_config(media),
            listener=listener,
        )

    def _session_config(self, media: AudioFormat) -> SessionConfig:
        s = self._settings
        return SessionConfig(
            instructions=s.system_prompt,
            input_audio_format=media,
            output_audio_format=media,
            turn_detection=call_turn_detection(s.vad),
            tools=BUILTIN_TOOLS,
        )

    # --- inbound -------------------------------------------------------------------------

    def _parse(self, frame: Frame) -> list[CallEvent]:
        try:
            return self.codec.receive(frame)
        except CarrierProtocolError as exc:
            # One bad frame must not end a call: log it and carry on.
            log.warning("bad carrier frame", error=str(exc))
            return []

    async def _receive_loop(self, session: Conversation) -> None:
        while (frame := await self.transport.receive()) is not None:
            for event in self._parse(frame):
                if isinstance(event, MediaReceived):
                    for hook in self.hooks.on_audio:
                        hook(event.audio)
                    await session.handle(AppendAudio(event.audio))
                elif isinstance(event, MarkPlayed) and self._outbound is not None:
                    self._outbound.acked(event.name, self._clock())
                elif isinstance(event, DtmfReceived):
                    self._on_digit(event.digit)
                elif isinstance(event, AudioCleared):
                    pass  # the clear was already accounted for when it was sent
                elif isinstance(event, CallEnded):
                    log.info("carrier ended the call", reason=event.reason)
                    return

    def _on_digit(self, digit: str) -> None:
        for hook in self.hooks.on_dtmf:
            hook(digit)
        if not self.answer_digits:
            return  # a dialplan took this key; it must not reach a later agent
        self._digits.append(digit)
        if self._digit_timer is not None:
            self._digit_timer.cancel()
        self._digit_timer = asyncio.get_running_loop().call_later(
            DTMF_SETTLE_S, self._digits_settled
        )

    def _digits_settled(self) -> None:
        """Hand the keyed digits to the agent as text, and let it answer."""
        self._digit_timer = None
        digits, self._digits = " ".join(self._digits), []
        session = self.session
        if session is None or not digits or not self.answer_digits:
            return
        session.add_user_text(f"[The caller pressed {digits} on the keypad]")
        if not session.responding:
            session.create_response(ResponseParams())

    # --- outbound ------------------------------------------------------------------------

    def _on_session_event(self, event: ev.EngineEvent) -> None:
        for hook in self.hooks.on_event:
            hook(event)
        if isinstance(event, ev.ResponseCreated) and self._outbound is not None:
            self._outbound.start_reply()
        elif isinstance(event, ev.ResponseAudioDelta):
            self._queue_audio(event.audio)
        elif isinstance(event, ev.ResponseAudioDone):
            self._flush_audio()
        elif isinstance(event, ev.ResponseDone):
            error = event.response.error
            if event.response.status == "failed" and (error is None or error.type == SERVER_ERROR):
                self._apologise()  # not when the conversation refused it: saying would fail too
            calls = [
                item
                for item in event.response.output
                if isinstance(item, FunctionCallItem) and item.name in self.tool_handlers
            ]
            if calls and event.response.status == "completed":
                self._spawn(self._run_tools(calls))

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_tools(self, calls: list[FunctionCallItem]) -> None:
        """Carry out the agent's tool calls, record their results, and let the agent go on
        talking about them (unless a tool ended the conversation)."""
        carry_on = False
        for call in calls:
            try:
                output = await self.tool_handlers[call.name](tool_arguments(call.arguments))
            except (ControlUnsupported, ControlFailed, ValueError, KeyError) as exc:
                log.warning("tool failed", tool=call.name, error=str(exc))
                output = {"status": "failed", "error": str(exc)}
            if self.session is not None:
                self.session.add_item(FunctionCallOutputItem(call.call_id, json.dumps(output)))
            carry_on = carry_on or call.name not in ENDING_TOOLS
        if carry_on and self.session is not None and not self.session.responding:
            self.session.create_response(ResponseParams())

    async def _control_flow(self, controller: Callable[[Call], Awaitable[Any]]) -> None:
        try:
            await controller(self)
        except Exception:
            log.exception("the call flow failed")
            self._apologise()
            await self.drained()
            await self.control.hangup()

    async def _end_call(self, arguments: dict[str, Any]) -> dict[str, Any]:
        await self.drained()
        await self.control.hangup()
        return {"status": "done"}

    async def _transfer(self, arguments: dict[str, Any]) -> dict[str, Any]:
        await self.drained()
        await self.control.transfer(str(arguments["target"]))
        return {"status": "done"}

    async def _send_dtmf(self, arguments: dict[str, Any]) -> dict[str, Any]:
        await self.control.send_dtmf(str(arguments["digits"]))
        return {"status": "done"}

    async def drained(self) -> None:
        """Wait until the caller has heard everything sent so far (it plays in real time)."""
        await self._all_sent.wait()
        if self._outbound is not None:
            await asyncio.sleep(self._outbound.buffered_s(self._clock()))

    async def play_wire(self, audio: bytes) -> None:
        """Play audio already in the call's wire format; wait until it has played."""
        self._replay(audio, True)
        await self.drained()

    @property
    def media_format(self) -> AudioFormat:
        """The call's wire audio format (known once the call has started)."""
        assert self._media is not None
        return self._media

    @property
    def settings(self) -> Settings:
        return self._settings

    def interrupt_playback(self) -> None:
        """Stop the agent mid-sentence (a key pressed over a prompt): the engine clears the
        carrier and cuts the reply to what was heard, as for a spoken barge-in."""
        if self.session is not None:
            self._spawn(self.session.interrupt())

    def _apologise(self) -> None:
        """The LLM or TTS failed: the caller hears a spoken fallback, not silence."""
        if self.session is not None and self._settings.fallback_message:
            self.session.say(self._settings.fallback_message)

    def _queue_audio(self, audio: bytes) -> None:
        assert self._outbound is not None
        self._outbound.push(audio)
        self._all_sent.clear()
        self._wake.set()

    def _flush_audio(self) -> None:
        assert self._outbound is not None
        self._outbound.flush()
        if self._outbound.pending:
            self._all_sent.clear()
            self._wake.set()

    def _replay(self, audio: bytes, done: bool) -> None:  # also a paused reply playing on
        self._queue_audio(audio)
        if done:
            self._flush_audio()

    def _clear_carrier(self) -> None:
        """The engine cleared its listener: the carrier drops what it has queued, at once."""
        self._urgent.extend(self.codec.clear())
        self._wake.set()
        log.info("barge-in: cleared carrier audio")

    async def _send_loop(self) -> None:
        """Send urgent frames at once and paced frames on their deadlines."""
        while True:
            while self._urgent:
                await self.transport.send(self._urgent.pop(0))
            self._urgent_sent.set()
            outbound = self._outbound
            assert outbound is not None
            for frame in carrier_frames(self.codec, outbound.due(self._clock())):
                await self.transport.send(frame)
            self._wake.clear()
            if not outbound.pending:
                self._all_sent.set()
            deadline = outbound.next_deadline(self._clock())
            timeout = None if deadline is None else max(0.0, deadline - self._clock())
            if self._urgent:
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()

    async def _send_now(self, frames: list[Frame]) -> None:
        """Send ``frames`` ahead of paced audio, once written (a hang-up precedes the close)."""
        self._urgent.extend(frames)
        self._urgent_sent.clear()
        self._wake.set()
        with contextlib.suppress(TimeoutError):  # a dead socket: closing comes next anyway
            async with asyncio.timeout(URGENT_SEND_TIMEOUT_S):
                await self._urgent_sent.wait()
