"""The dialplan's record node: capture the caller until they stop talking, then save it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
import wave
from datetime import datetime
from pathlib import Path

from bridge.audio import WireDecoder
from bridge.audio.format import AudioFormat
from bridge.audio.level import is_speech
from bridge.calls.call import Call
from bridge.carriers.base import CallStarted


async def capture_recording(
    call: Call, silence_s: float, max_s: float, media: AudioFormat
) -> bytes:
    """The caller's audio (16-bit PCM at the call's rate) until ``silence_s`` of quiet after
    speech, or ``max_s`` in all."""
    decoder = WireDecoder(media.encoding, media.sample_rate, media.sample_rate)
    audio = bytearray()
    heard_speech = asyncio.Event()
    last_voice = time.monotonic()
    done = asyncio.Event()
    started = time.monotonic()

    def capture(wire: bytes) -> None:
        nonlocal last_voice
        pcm = decoder.decode(wire)
        audio.extend(pcm)
        now = time.monotonic()
        if is_speech(pcm):
            last_voice = now
            heard_speech.set()
        silent_for = now - last_voice
        if (heard_speech.is_set() and silent_for >= silence_s) or now - started >= max_s:
            done.set()

    call.hooks.on_audio.append(capture)
    try:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max_s + 1):
                await done.wait()
    finally:
        call.hooks.on_audio.remove(capture)
    return bytes(audio)


def save_recording(
    folder: Path, pcm: bytes, rate: int, started: CallStarted | None, dialplan: str, now: datetime
) -> Path:
    """Write the recording as a WAV file with a JSON sidecar of what it is; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    call_id = started.call_id if started else "call"
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"{stamp}-{re.sub(r'[^A-Za-z0-9_-]', '_', call_id)}.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm)
    meta = {
        "call_id": call_id,
        "from": started.from_number if started else "",
        "to": started.to_number if started else "",
        "recorded_at": now.isoformat(),
        "duration_s": round(len(pcm) / 2 / rate, 2),
        "dialplan": dialplan,
    }
    path.with_suffix(".json").write_text(json.dumps(meta, indent=2))
    return path
