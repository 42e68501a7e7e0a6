"""The client side of the realtime wire (GA dialect), sans I/O: what a bridge sends to an
upstream ``/v1/realtime`` server, and the upstream's events read back as engine events.

Used by the relay (:mod:`bridge.upstream.relay`). Only the server events a relayed call acts
on are read; the rest return ``None``.
"""

from __future__ import annotations

import base64
from typing import Any

from bridge.audio.format import AudioFormat
from bridge.engine import events as ev
from bridge.engine.config import SessionConfig
from bridge.engine.items import FunctionCallItem, Item
from bridge.engine.response import Response
from bridge.realtime.dialect import Dialect
from bridge.realtime.items import render_item
from bridge.realtime.session_render import render_session


def session_update(config: SessionConfig) -> dict[str, Any]:
    session = render_session(config, Dialect.GA, "")
    for key in ("id", "object", "expires_at"):
        session.pop(key, None)
    return {"type": "session.update", "session": session}


def append_audio(audio: bytes) -> dict[str, Any]:
    return {"type": "input_audio_buffer.append", "audio": base64.b64encode(audio).decode()}


def create_item(item: Item) -> dict[str, Any]:
    rendered = render_item(item, Dialect.GA)
    rendered.pop("object", None)
    rendered.pop("status", None)
    return {"type": "conversation.item.create", "item": rendered}


def create_response(instructions: str | None = None) -> dict[str, Any]:
    if instructions is None:
        return {"type": "response.create"}
    return {"type": "response.create", "response": {"instructions": instructions}}


def cancel_response() -> dict[str, Any]:
    return {"type": "response.cancel"}


def truncate(item_id: str, audio_end_ms: int) -> dict[str, Any]:
    return {
        "type": "conversation.item.truncate",
        "item_id": item_id,
        "content_index": 0,
        "audio_end_ms": audio_end_ms,
    }


def read_server_event(data: object, audio: AudioFormat) -> ev.EngineEvent | None:
    """An upstream server event as the engine event a relayed call acts on, else None.
    Malformed events read as None: the upstream's mistakes must not end the call."""
    if not isinstance(data, dict):
        return None
    kind = data.get("type")

    def text(key: str) -> str:
        return str(data.get(key) or "")

    if kind == "response.created":
        return ev.ResponseCreated(_response(data.get("response"), audio))
    if kind in ("response.output_audio.delta", "response.audio.delta"):
        try:
            pcm = base64.b64decode(text("delta"), validate=True)
        except ValueError:
            return None
        return ev.ResponseAudioDelta(text("response_id"), text("item_id"), 0, 0, pcm)
    if kind in ("response.output_audio.done", "response.audio.done"):
        return ev.ResponseAudioDone(text("response_id"), text("item_id"), 0, 0)
    if kind == "input_audio_buffer.speech_started":
        start = data.get("audio_start_ms")
        return ev.InputAudioBufferSpeechStarted(text("item_id"), _int(start))
    if kind == "conversation.item.input_audio_transcription.completed":
        return ev.InputAudioTranscriptionCompleted(
            text("item_id"), _int(data.get("content_index")), text("transcript")
        )
    if kind == "response.done":
        return ev.ResponseDone(_response(data.get("response"), audio))
    if kind == "error":
        error = data.get("error")
        body: dict[str, Any] = error if isinstance(error, dict) else {}
        code = body.get("code")
        return ev.ErrorEvent(
            str(body.get("message") or ""), code=code if isinstance(code, str) else None
        )
    return None


def failed_response(audio: AudioFormat) -> Response:
    return _response({"status": "failed"}, audio)


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _response(payload: object, audio: AudioFormat) -> Response:
    body = payload if isinstance(payload, dict) else {}
    status = body.get("status")
    response = Response(
        output_modalities=("audio",),
        output_audio_format=audio,
        voice="",
        max_output_tokens="inf",
        temperature=0.8,
        status=status
        if status in ("in_progress", "completed", "cancelled", "failed", "incomplete")
        else "completed",
    )
    if isinstance(body.get("id"), str) and body["id"]:
        response.id = body["id"]
    for entry in body.get("output") or []:
        if isinstance(entry, dict) and entry.get("type") == "function_call":
            call = FunctionCallItem(str(entry.get("name") or ""), str(entry.get("arguments") or ""))
            call.call_id = str(entry.get("call_id") or call.call_id)
            response.output.append(call)
    return response
