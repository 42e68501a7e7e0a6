"""One realtime session over WebRTC: a peer joined to the conversation engine.

The peer's audio goes to the engine as input audio; the engine's audio deltas go to the paced
outbound track, never onto the data channel. Every other event goes, one JSON event per
message, to the ``oai-events`` channel and to any sideband WebSocket watching the call, each
rendered in its own dialect by its own :class:`~bridge.realtime.server.ServerConnection`.

The track is the engine's listener: what it handed to aiortc is what was heard, so a barge-in
truncates exactly there. This module also reports playout the way OpenAI does over WebRTC:
``output_audio_buffer.started`` after the reply's audio part is added, ``.stopped`` once the
track has drained after ``response.done``, ``.cleared`` when the engine clears the track
(an interrupting speech start, or the client's ``output_audio_buffer.clear``).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable
from typing import Any

from aiortc import RTCDataChannel

from bridge.audio import AudioFormat, WireDecoder, WireEncoder
from bridge.config import Settings
from bridge.doors.admission import Ticket
from bridge.engine import events as ev
from bridge.engine.commands import AppendAudio
from bridge.engine.config import SessionConfig
from bridge.engine.errors import CommandError
from bridge.engine.items import AudioPart
from bridge.engine.listener import AssistantAudio
from bridge.engine.session import LocalConversation
from bridge.logging import bind_call, get_logger
from bridge.observe import Observer, observing, span
from bridge.pipeline.engines import Engines
from bridge.realtime.dialect import Dialect
from bridge.realtime.server import ServerConnection
from bridge.webrtc import EventChannel, Peer, PeerRegistry, PeerSettings, consume
from bridge.webrtc.channel import LOCAL_MAX_MESSAGE_BYTES
from bridge.webrtc.outbound import RATE as TRACK_RATE

log = get_logger("bridge.webrtc")
INPUT_RATE = 24_000  # the peer's audio is converted to this, then to the session's format
LOOKAHEAD_MS = 2500  # speech synthesized ahead of what the peer was sent
MAX_PENDING_MESSAGES = 256  # client messages waiting to be handled; beyond, they are refused
MAX_EARLY_EVENTS = 1000  # events kept for a data channel that has not opened (yet)
CHANNEL_LABEL = "oai-events"


def new_call_id() -> str:
    return "rtc_" + secrets.token_hex(12)


def peer_settings(settings: Settings) -> PeerSettings:
    return PeerSettings(
        ice_servers=tuple(settings.webrtc_ice_servers),
        turn_username=settings.webrtc_turn_username or None,
        turn_credential=settings.webrtc_turn_credential or None,
        host_addresses=frozenset(settings.webrtc_host_addresses),
        advertised_address=settings.webrtc_advertised_address or None,
        connect_timeout_s=settings.webrtc_connect_timeout_s,
    )


class TrackListener:
    """The engine's :class:`~bridge.engine.listener.Listener` over WebRTC: the outbound track."""

    def __init__(self, call: RealtimeCall) -> None:
        self._call = call

    def heard_ms(self, audio: AssistantAudio) -> float:
        return self._call.peer.track.sent_ms

    async def throttle(self, audio: AssistantAudio) -> None:
        ahead = self._call.peer.track.queued_ms
        if ahead > LOOKAHEAD_MS:
            await asyncio.sleep((ahead - LOOKAHEAD_MS) / 1000)  # it plays in real time

    def clear(self) -> None:
        self._call.clear_playout()


class Watcher:
    """A sideband WebSocket (or the data channel): its own dialect, its own delivery."""

    def __init__(
        self, dialect: Dialect, deliver: Callable[[dict[str, Any]], None], settings: Settings
    ) -> None:
        self.connection = ServerConnection(
            dialect,
            deliver,
            max_message_bytes=settings.max_message_bytes,
            max_json_depth=settings.max_json_depth,
            plays_audio=True,
        )


class RealtimeCall:
    def __init__(
        self,
        *,
        engines: Engines,
        settings: Settings,
        dialect: Dialect,
        config: SessionConfig,
        peers: PeerRegistry,
    ) -> None:
        self.id = new_call_id()
        self.dialect = dialect
        self.peer = Peer(peer_settings(settings), peers)
        self._settings = settings
        self._channel: EventChannel | None = None
        self._early: list[dict[str, Any]] = []  # events before the data channel arrived
        self.main = Watcher(dialect, self._to_channel, settings)
        self.watchers: list[Watcher] = [self.main]
        self.session = LocalConversation(
            engines=engines,
            settings=settings.conversation,
            emit=self._on_event,
            config=config,
            listener=TrackListener(self),
        )
        self._decoders: dict[AudioFormat, WireDecoder] = {}
        self._encoders: dict[AudioFormat, WireEncoder] = {}
        self._playing: str | None = None  # the response whose audio is on the track
        self._playing_done = False  # that response is done (its audio may still be queued)
        self._muted: str | None = None  # a cleared response: its late audio is dropped
        self._inbox: asyncio.Queue[str | bytes] = asyncio.Queue()
        self._channel_limit = LOCAL_MAX_MESSAGE_BYTES
        self._audio_refused = False  # the last audio frame was refused (reported once)
        self.ended = self.peer.ended
        self.peer.track.on_idle = self._track_idle
        self.peer.on_channel.append(self._attach_channel)

    # --- lifecycle -----------------------------------------------------------------------

    async def answer(self, offer: str, *, max_message_size: int = LOCAL_MAX_MESSAGE_BYTES) -> str:
        """``max_message_size``: the data-channel limit the offer announced."""
        self._channel_limit = max_message_size
        return await self.peer.answer(offer)

    async def run(self) -> None:
        """Serve the call until the peer closes (hang-up, watchdog, failure) or time runs out."""
        with bind_call(call_id=self.id, session_id=self.session.id):
            log.info("webrtc realtime call started", dialect=self.dialect.value)
            self.session.start()
            self.peer.spawn(self._take_audio())
            self.peer.spawn(self._handle_messages())
            try:
                async with asyncio.timeout(self._settings.max_session_s):
                    await self.peer.closed.wait()
            except TimeoutError:
                self._broadcast(
                    ev.ErrorEvent(
                        f"Your session hit the maximum duration of "
                        f"{self._settings.max_session_s:g} s.",
                        code="session_expired",
                    )
                )
            finally:
                await self.session.close()
                await self.peer.close()
                log.info("webrtc realtime call ended")

    async def hangup(self) -> None:
        await self.peer.close()

    # --- the peer's side -------------------------------------------------------------------

    async def _take_audio(self) -> None:
        track = await self.peer.remote_audio
        await consume(track, INPUT_RATE, self._append)

    async def _append(self, pcm: bytes) -> None:
        wire = self.session.config.input_audio_format
        if wire.encoding != "pcm16" or wire.sample_rate != INPUT_RATE:
            encoder = self._encoders.get(wire)
            if encoder is None:
                encoder = self._encoders[wire] = WireEncoder(
                    wire.encoding, wire.sample_rate, INPUT_RATE
                )
            pcm = encoder.encode(pcm)
        try:
            await self.session.handle(AppendAudio(pcm))
        except CommandError as error:  # a full buffer (push-to-talk never committed)
            if not self._audio_refused:  # said once, not 50 times a second
                self.main.connection.refuse(error)
            self._audio_refused = True
        else:
            self._audio_refused = False

    def _attach_channel(self, channel: RTCDataChannel) -> None:
        if channel.label != CHANNEL_LABEL or self._channel is not None:
            return  # other channels are the client's business
        self._channel = EventChannel(channel, max_bytes=self._channel_limit)
        channel.on("message", self._receive)
        early, self._early = self._early, []
        for event in early:
            self._channel.send(event)

    def _receive(self, message: str | bytes) -> None:
        if self._inbox.qsize() >= MAX_PENDING_MESSAGES:
            self._broadcast_to(
                self.main,
                ev.ErrorEvent(
                    "Too many client events are waiting to be handled; this one was dropped.",
                    code="rate_limited",
                ),
            )
            return
        self._inbox.put_nowait(message)

    async def _handle_messages(self) -> None:
        while True:
            message = await self._inbox.get()
            await self.main.connection.receive(message, self.session)

    # --- the engine's side -----------------------------------------------------------------

    def _to_channel(self, event: dict[str, Any]) -> None:
        if self._channel is None:
            if len(self._early) < MAX_EARLY_EVENTS:  # a client with no channel: keep the start
                self._early.append(event)
        else:
            self._channel.send(event)

    def _broadcast(self, event: ev.EngineEvent) -> None:
        for watcher in list(self.watchers):
            self._broadcast_to(watcher, event)

    def _broadcast_to(self, watcher: Watcher, event: ev.EngineEvent) -> None:
        watcher.connection.send(event)

    def _on_event(self, event: ev.EngineEvent) -> None:
        """The engine's ``emit``: audio to the track, everything else to the watchers."""
        if isinstance(event, ev.ResponseAudioDelta):
            self._play(event)
            return  # no audio deltas over WebRTC
        self._broadcast(event)
        if isinstance(event, ev.ResponseCreated):
            self.peer.track.start_reply()
            self._decoders.clear()
        elif isinstance(event, ev.ResponseContentPartAdded) and isinstance(event.part, AudioPart):
            self._playing, self._playing_done = event.response_id, False
            self._broadcast(ev.OutputAudioBufferStarted(event.response_id))
        elif isinstance(event, ev.ResponseDone) and event.response.id == self._playing:
            self._playing_done = True
            self._track_idle()

    def _play(self, event: ev.ResponseAudioDelta) -> None:
        if event.response_id == self._muted:
            return
        wire = self.session.config.output_audio_format
        decoder = self._decoders.get(wire)
        if decoder is None:
            decoder = self._decoders[wire] = WireDecoder(
                wire.encoding, wire.sample_rate, TRACK_RATE
            )
        self.peer.track.push(decoder.decode(event.audio))

    def _track_idle(self) -> None:
        """The track ran out of audio (or the reply ended): ``.stopped`` once both are so."""
        playing = self._playing
        if playing is not None and self._playing_done and self.peer.track.queued_ms == 0:
            self._playing = None
            self._broadcast(ev.OutputAudioBufferStopped(playing))

    def clear_playout(self) -> None:
        """The engine cleared its listener: drop the queued audio at once."""
        self.peer.track.clear()
        playing, self._playing = self._playing, None
        if playing is not None:
            self._muted = playing
            self._broadcast(ev.OutputAudioBufferCleared(playing))
            log.info("barge-in: cleared the outbound track", response_id=playing)

    # --- sideband watchers -----------------------------------------------------------------

    def watch(self, dialect: Dialect, deliver: Callable[[dict[str, Any]], None]) -> Watcher:
        watcher = Watcher(dialect, deliver, self._settings)
        self.watchers.append(watcher)
        return watcher

    def unwatch(self, watcher: Watcher) -> None:
        with contextlib.suppress(ValueError):
            self.watchers.remove(watcher)


class WebRTCCalls:
    """The live WebRTC realtime calls of a process, by id, and the tasks that run them."""

    def __init__(self) -> None:
        self.calls: dict[str, RealtimeCall] = {}
        self.peers = PeerRegistry()
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self.calls)

    def start(self, call: RealtimeCall, ticket: Ticket, observer: Observer | None) -> None:
        """Run ``call`` as a task; its admission ticket is released when it ends."""

        async def run() -> None:
            with (
                ticket,
                observing(observer),
                span("realtime.session", **{"bridge.door": "webrtc"}),
            ):
                try:
                    await call.run()
                finally:
                    self.calls.pop(call.id, None)

        self.calls[call.id] = call
        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close_all(self) -> None:
        """Hang up every call and wait for them (shutdown)."""
        for call in list(self.calls.values()):
            await call.hangup()
        await asyncio.gather(*self._tasks, return_exceptions=True)
