"""Relay mode: a call's conversation runs on an upstream ``/v1/realtime`` server (OpenAI's, or
another bridge) instead of the local pipeline.

:class:`RelaySession` offers the call adapter the same surface as the local engine. It speaks
the GA dialect upstream, converts audio between the carrier's format and the upstream one
(G.711 passes straight through; linear PCM is resampled to and from 24 kHz), and turns the
upstream events the call needs back into the engine's neutral events. Barge-in is the
upstream's own VAD; the call tells it what the caller actually heard with
``conversation.item.truncate``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import Callable
from typing import Any

import websockets

from bridge.audio import StreamResampler
from bridge.engine import events as ev
from bridge.engine.config import PCM16, AudioFormat, FunctionTool
from bridge.engine.items import FunctionCallItem, FunctionCallOutputItem, Item, MessageItem
from bridge.engine.responder import AssistantAudio
from bridge.engine.response import Response, ResponseParams
from bridge.logging import get_logger

log = get_logger("bridge.calls.relay")
UPSTREAM_FORMATS = {"pcmu": {"type": "audio/pcmu"}, "pcma": {"type": "audio/pcma"}}


class RelaySession:
    def __init__(
        self,
        *,
        url: str,
        api_key: str,
        media: AudioFormat,
        emit: Callable[[ev.EngineEvent], None],
        played_ms: Callable[[AssistantAudio], float],
        instructions: str,
        voice: str,
        tools: tuple[FunctionTool, ...] = (),
    ) -> None:
        self._url = url
        self._api_key = api_key
        self._media = media
        self._emit = emit
        self._played_ms = played_ms
        self._instructions = instructions
        self._voice = voice
        self._tools = tools
        self._passthrough = media.encoding in UPSTREAM_FORMATS
        upstream_rate = media.sample_rate if self._passthrough else PCM16.sample_rate
        self._up = StreamResampler(media.sample_rate, upstream_rate)
        self._down = StreamResampler(upstream_rate, media.sample_rate)
        self._bytes_per_ms = media.sample_rate * media.bytes_per_sample / 1000
        self._ws: websockets.ClientConnection | None = None
        self._connected = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self._response: Response | None = None
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
                    self._on_upstream(json.loads(frame))
        except (OSError, websockets.WebSocketException) as exc:
            log.warning("upstream realtime connection failed", url=self._url, error=str(exc))
            self._emit(ev.ResponseDone(_response("failed")))
        finally:
            self._ws = None
            self._connected.set()  # nobody waits forever for a connection that is gone

    def _session_update(self) -> dict[str, Any]:
        fmt = UPSTREAM_FORMATS.get(self._media.encoding, {"type": "audio/pcm", "rate": 24000})
        return {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "instructions": self._instructions,
                "output_modalities": ["audio"],
                "audio": {
                    "input": {"format": fmt, "turn_detection": {"type": "server_vad"}},
                    "output": {"format": fmt, "voice": self._voice},
                },
                "tools": [
                    {
                        "type": "function",
                        "name": t.name,
                        "description": t.description,
                        "parameters": t.parameters,
                    }
                    for t in self._tools
                ],
            },
        }

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

    # --- what the call asks of a session ----------------------------------------------

    @property
    def responding(self) -> bool:
        return self._response is not None

    async def handle(self, event: Any) -> None:
        """Only audio appends come from the call; they go upstream in its format."""
        pcm = event.audio
        if not self._passthrough:
            pcm = self._up.process(pcm)
        await self._send(
            {"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm).decode()}
        )

    def say(self, text: str) -> None:
        self._send_soon(
            {
                "type": "response.create",
                "response": {"instructions": f"Say exactly this, and nothing else: {text}"},
            }
        )

    def add_user_text(self, text: str) -> MessageItem:
        item = MessageItem(role="user", content=[])
        self._send_soon(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": text}],
                },
            }
        )
        return item

    def add_item(self, item: Item) -> None:
        if isinstance(item, FunctionCallOutputItem):
            output = {
                "type": "function_call_output",
                "call_id": item.call_id,
                "output": item.output,
            }
            self._send_soon({"type": "conversation.item.create", "item": output})

    def create_response(self, params: ResponseParams) -> None:
        self._send_soon({"type": "response.create"})

    # --- upstream events ---------------------------------------------------------------

    def _on_upstream(self, event: dict[str, Any]) -> None:
        kind = event.get("type", "")
        if kind == "response.created":
            self._response = _response("in_progress", event["response"].get("id", ""))
            self._emit(ev.ResponseCreated(self._response))
        elif kind in ("response.output_audio.delta", "response.audio.delta"):
            self._on_audio(event)
        elif kind in ("response.output_audio.done", "response.audio.done"):
            self._emit(
                ev.ResponseAudioDone(event.get("response_id", ""), event.get("item_id", ""), 0, 0)
            )
        elif kind == "input_audio_buffer.speech_started":
            self._emit(
                ev.InputAudioBufferSpeechStarted(
                    event.get("item_id", ""), event.get("audio_start_ms", 0)
                )
            )
            self._truncate_unheard()
        elif kind == "response.done":
            self._on_done(event["response"])
        elif kind == "error":
            log.warning("upstream error", error=event.get("error"))

    def _on_audio(self, event: dict[str, Any]) -> None:
        audio = base64.b64decode(event.get("delta", ""))
        if not self._passthrough:
            audio = self._down.process(audio)
        item_id = event.get("item_id", "")
        if self._audio is None or self._audio.item.id != item_id:
            self._audio = AssistantAudio(
                MessageItem("assistant", id=item_id), bytes_per_ms=self._bytes_per_ms
            )
        self._audio.spoken.add("", len(audio) / self._bytes_per_ms)
        self._emit(ev.ResponseAudioDelta(event.get("response_id", ""), item_id, 0, 0, audio))

    def _truncate_unheard(self) -> None:
        audio = self._audio
        if audio is None or audio.interrupted:
            return
        heard = int(self._played_ms(audio))
        if heard < audio.sent_ms - 1:
            audio.interrupted = True
            self._send_soon(
                {
                    "type": "conversation.item.truncate",
                    "item_id": audio.item.id,
                    "content_index": 0,
                    "audio_end_ms": heard,
                }
            )

    def _on_done(self, payload: dict[str, Any]) -> None:
        response = _response(payload.get("status", "completed"), payload.get("id", ""))
        for entry in payload.get("output") or []:
            if entry.get("type") == "function_call":
                call = FunctionCallItem(entry.get("name", ""), entry.get("arguments", ""))
                call.call_id = entry.get("call_id", call.call_id)
                response.output.append(call)
        self._response = None
        self._emit(ev.ResponseDone(response))


def _response(status: Any, response_id: str = "") -> Response:
    response = Response(
        output_modalities=("audio",),
        output_audio_format=PCM16,
        voice="",
        max_output_tokens="inf",
        temperature=0.8,
        status=status,
    )
    if response_id:
        response.id = response_id
    return response
