"""Relay mode: a call's conversation runs on an upstream ``/v1/realtime`` server (OpenAI's, or
another bridge) instead of the local pipeline.

:class:`RelayConversation` is a :class:`~bridge.engine.conversation.Conversation` like the
local engine. It speaks the GA dialect upstream (:mod:`bridge.realtime.client`), converts audio
between the caller's format and the upstream one (G.711 passes straight through; linear PCM is
resampled to and from 24 kHz), and hands the upstream's events back as engine events. Turn
detection is the upstream's; on its speech start the relay does barge-in's first half like the
local engine (:func:`~bridge.engine.listener.stop_playout`) and tells the upstream what was
heard with ``conversation.item.truncate``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import websockets

from bridge.audio import StreamResampler
from bridge.audio.format import PCM16, AudioFormat
from bridge.engine import commands as cmd
from bridge.engine import errors
from bridge.engine import events as ev
from bridge.engine.config import FunctionTool, ServerVad, SessionConfig
from bridge.engine.errors import CommandError
from bridge.engine.items import InputTextPart, Item, MessageItem
from bridge.engine.listener import AssistantAudio, Listener, stop_playout
from bridge.engine.response import ResponseParams
from bridge.json_limits import loads
from bridge.logging import get_logger
from bridge.realtime import client

log = get_logger("bridge.upstream.relay")
PASSTHROUGH = ("pcmu", "pcma")  # G.711 goes upstream as it is


class RelayConversation:
    def __init__(
        self,
        *,
        url: str,
        api_key: str,
        media: AudioFormat,
        emit: Callable[[ev.EngineEvent], None],
        listener: Listener,
        instructions: str,
        voice: str,
        tools: tuple[FunctionTool, ...] = (),
    ) -> None:
        self._url = url
        self._api_key = api_key
        self._media = media
        self._emit = emit
        self._listener = listener
        self._passthrough = media.encoding in PASSTHROUGH
        self._upstream_format = media if self._passthrough else PCM16
        self._up = StreamResampler(media.sample_rate, self._upstream_format.sample_rate)
        self._down = StreamResampler(self._upstream_format.sample_rate, media.sample_rate)
        self._bytes_per_ms = media.sample_rate * media.bytes_per_sample / 1000
        self._config = SessionConfig(
            instructions=instructions,
            voice=voice,
            input_audio_format=media,
            output_audio_format=media,
            turn_detection=ServerVad(),
            tools=tools,
        )
        self._ws: websockets.ClientConnection | None = None
        self._connected = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self._responding = False
        self._audio: AssistantAudio | None = None  # the reply playing now
        self._sending: set[asyncio.Task[None]] = set()

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        self._reader = asyncio.create_task(self._run())

    async def close(self) -> None:
        for task in self._sending:
            task.cancel()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def _run(self) -> None:
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        try:
            async with websockets.connect(
                self._url, additional_headers=headers, max_size=None
            ) as ws:
                self._ws = ws
                await self._send(self._session_update())
                self._connected.set()
                async for frame in ws:
                    # A malformed or absurdly nested frame from upstream is skipped, not fatal.
                    with contextlib.suppress(ValueError):
                        self._on_upstream(loads(frame))
        except (OSError, websockets.WebSocketException) as exc:
            log.warning("upstream realtime connection failed", url=self._url, error=str(exc))
            self._emit(ev.ResponseDone(client.failed_response(self._media)))
        finally:
            self._ws = None
            self._connected.set()  # nobody waits forever for a connection that is gone

    def _session_update(self) -> dict[str, Any]:
        upstream = replace(
            self._config,
            input_audio_format=self._upstream_format,
            output_audio_format=self._upstream_format,
        )
        return client.session_update(upstream)

    async def _send(self, event: dict[str, Any]) -> None:
        if self._ws is None:
            await self._connected.wait()
        if self._ws is not None:
            with contextlib.suppress(websockets.ConnectionClosed):
                await self._ws.send(json.dumps(event))

    def _send_soon(self, event: dict[str, Any]) -> None:
        # Sends are queued on the socket in call order; the set keeps each task referenced.
        task = asyncio.get_running_loop().create_task(self._send(event))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    # --- the Conversation surface --------------------------------------------------------

    @property
    def config(self) -> SessionConfig:
        return self._config

    @property
    def responding(self) -> bool:
        return self._responding

    async def handle(self, command: cmd.Command) -> None:
        match command:
            case cmd.AppendAudio(audio=audio):
                pcm = audio if self._passthrough else self._up.process(audio)
                await self._send(client.append_audio(pcm))
            case cmd.UpdateConfig(config=config):
                self.reconfigure(config)
            case cmd.CreateItem(item=item):
                self.add_item(item)
            case cmd.CreateResponse(params=params):
                self.create_response(params)
            case cmd.CancelResponse():
                self._send_soon(client.cancel_response())
            case cmd.ClearOutputAudio():
                self._listener.clear()
            case _:
                raise CommandError(
                    errors.INVALID_EVENT, f"{type(command).__name__} is not relayed upstream."
                )

    def reconfigure(self, config: SessionConfig) -> None:
        self._config = config
        self._send_soon(self._session_update())

    def say(self, text: str) -> None:
        self._send_soon(client.create_response(f"Say exactly this, and nothing else: {text}"))

    def add_user_text(self, text: str) -> MessageItem:
        item = MessageItem(role="user", content=[InputTextPart(text)])
        self.add_item(item)
        return item

    def add_item(self, item: Item) -> None:
        self._send_soon(client.create_item(item))

    def create_response(self, params: ResponseParams) -> None:
        self._send_soon(client.create_response(params.instructions))

    async def interrupt(self) -> None:
        self._truncate_unheard()
        if self._responding:
            self._send_soon(client.cancel_response())

    # --- upstream events ---------------------------------------------------------------

    def _on_upstream(self, data: object) -> None:
        event = client.read_server_event(data, self._media)
        if isinstance(event, ev.ResponseCreated):
            self._responding = True
        elif isinstance(event, ev.ResponseAudioDelta):
            event = self._on_audio(event)
        elif isinstance(event, ev.InputAudioBufferSpeechStarted):
            self._truncate_unheard()
        elif isinstance(event, ev.ResponseDone):
            self._responding = False
        elif isinstance(event, ev.ErrorEvent):
            log.warning("upstream error", error=event.message, code=event.code)
            return
        if event is not None:
            self._emit(event)

    def _on_audio(self, event: ev.ResponseAudioDelta) -> ev.ResponseAudioDelta:
        audio = event.audio if self._passthrough else self._down.process(event.audio)
        if self._audio is None or self._audio.item.id != event.item_id:
            self._audio = AssistantAudio(
                MessageItem("assistant", id=event.item_id), bytes_per_ms=self._bytes_per_ms
            )
        self._audio.spoken.add("", len(audio) / self._bytes_per_ms)
        return replace(event, audio=audio)

    def _truncate_unheard(self) -> None:
        audio = self._audio
        heard = stop_playout(self._listener, audio)
        if audio is not None and heard is not None:
            self._send_soon(client.truncate(audio.item.id, heard))
