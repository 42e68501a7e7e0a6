"""Recorded prompts (WAV files), converted once per wire format and shared by every call.

An IVR plays the same prompts on every call. Reading and resampling a 30 s prompt takes tens of
milliseconds: done on the event loop for each call, a hundred calls starting together stalled
every other call's audio for seconds. Here the conversion runs on a worker thread, once per file
version and format, however many calls ask for it at the same moment.
"""

from __future__ import annotations

import asyncio
import os
import wave

from bridge.audio import WireEncoder
from bridge.audio.format import AudioFormat
from bridge.pipeline.tts import ClauseCache

# Converted prompts, most recently played kept first (keyed by path, version and format).
_converted = ClauseCache(max_bytes=32 << 20)
# Conversions under way: a call asking for one of these waits for it instead of starting another.
_converting: dict[str, asyncio.Future[bytes]] = {}


class PromptError(Exception):
    pass


async def prompt_audio(path: str, media: AudioFormat) -> bytes:
    """``path`` (16-bit mono WAV) as wire audio in ``media``'s format."""
    try:
        version = os.stat(path).st_mtime_ns
    except OSError as exc:
        raise PromptError(str(exc)) from exc
    key = f"{path}\0{version}\0{media.encoding}\0{media.sample_rate}"
    audio = _converted.get(key)
    if audio is not None:
        return audio
    converting = _converting.get(key)
    if converting is None:
        converting = asyncio.ensure_future(asyncio.to_thread(_convert, path, media))
        _converting[key] = converting
        converting.add_done_callback(lambda done: _settle(key, done))
    # Shielded: a call hanging up while it waits must not cancel it for the others.
    return await asyncio.shield(converting)


def _convert(path: str, media: AudioFormat) -> bytes:
    try:
        with wave.open(path, "rb") as wav:
            if wav.getnchannels() != 1 or wav.getsampwidth() != 2:
                raise PromptError("needs 16-bit mono PCM")
            pcm, rate = wav.readframes(wav.getnframes()), wav.getframerate()
    except (OSError, EOFError, wave.Error) as exc:
        raise PromptError(str(exc)) from exc
    return WireEncoder(media.encoding, media.sample_rate, rate).encode(pcm)


def _settle(key: str, done: asyncio.Future[bytes]) -> None:
    del _converting[key]
    if not done.cancelled() and done.exception() is None:
        _converted.put(key, done.result())  # a failure is not kept: a fixed file is tried again
