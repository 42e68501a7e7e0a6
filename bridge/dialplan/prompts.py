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
from collections import OrderedDict

from bridge.audio import WireEncoder
from bridge.carriers.base import MediaFormat

MAX_PROMPTS = 64  # converted prompts kept (a few MB at 8 kHz)

_Key = tuple[str, int, MediaFormat]
_prompts: OrderedDict[_Key, asyncio.Future[bytes]] = OrderedDict()


class PromptError(Exception):
    pass


async def prompt_audio(path: str, media: MediaFormat) -> bytes:
    """``path`` (16-bit mono WAV) as wire audio in ``media``'s format."""
    try:
        key = (path, os.stat(path).st_mtime_ns, media)
    except OSError as exc:
        raise PromptError(str(exc)) from exc
    converting = _prompts.get(key)
    if converting is None:
        converting = asyncio.ensure_future(asyncio.to_thread(_convert, path, media))
        _prompts[key] = converting
        converting.add_done_callback(lambda done: _forget_failure(key, done))
        while len(_prompts) > MAX_PROMPTS:
            _prompts.popitem(last=False)
    _prompts.move_to_end(key)
    return await asyncio.shield(converting)


def _convert(path: str, media: MediaFormat) -> bytes:
    try:
        with wave.open(path, "rb") as wav:
            if wav.getnchannels() != 1 or wav.getsampwidth() != 2:
                raise PromptError("needs 16-bit mono PCM")
            pcm, rate = wav.readframes(wav.getnframes()), wav.getframerate()
    except (OSError, EOFError, wave.Error) as exc:
        raise PromptError(str(exc)) from exc
    return WireEncoder(media.encoding, media.sample_rate, rate).encode(pcm)


def _forget_failure(key: _Key, done: asyncio.Future[bytes]) -> None:
    if done.cancelled() or done.exception() is not None:
        _prompts.pop(key, None)  # a fixed file is tried again
