"""Workarounds for aiortc's gaps, all in one place (like ``bridge/sip/compat.py``).

- **Audio level in pure Python.** aiortc computes the RFC 6465 audio level of every frame it
  sends by unpacking each sample in a Python loop: ~0.5 ms a 20 ms frame, on the event loop,
  per call — more than SRTP and the socket together. :func:`audio_level_dbov` computes the
  same number with numpy (checked against aiortc's own in the tests); :func:`install` puts it
  where aiortc's sender looks it up. Idempotent.
- **The receive path.** aiortc's receiver has no setting for its jitter buffer (four audio
  packets deep, and a frame only leaves when the next arrives) nor for where it decodes (a
  thread per receiver, woken for every packet). :func:`take_over_receiver` puts the bridge's
  own in their (private) places before the receiver starts: :class:`AudioJitterBuffer` and
  :class:`InlineDecoding`.
"""

from __future__ import annotations

import math
from typing import Any

import av
import numpy as np
from aiortc import rtp
from aiortc.jitterbuffer import JitterBuffer

from bridge.webrtc.codec import InlineDecoding
from bridge.webrtc.jitter import AudioJitterBuffer

MAX_SAMPLE_VALUE = 32767
MIN_AUDIO_LEVEL = -127
_ORIGINAL = rtp.compute_audio_level_dbov


def audio_level_dbov(frame: av.AudioFrame) -> int:
    """RFC 6465 Appendix A, as aiortc computes it (over the whole first plane)."""
    samples = np.frombuffer(bytes(frame.planes[0]), dtype=np.int16).astype(np.float64)
    energy = float(np.dot(samples, samples))
    rms = math.sqrt(energy / (frame.samples * MAX_SAMPLE_VALUE * MAX_SAMPLE_VALUE))
    if rms <= 0:
        return MIN_AUDIO_LEVEL
    return round(min(max(20 * math.log10(rms), MIN_AUDIO_LEVEL), 0))


def install() -> None:
    rtp.compute_audio_level_dbov = audio_level_dbov


def original() -> object:
    """aiortc's own function (for the test that compares the two)."""
    return _ORIGINAL


_PRIVATE = "_RTCRtpReceiver__"


def take_over_receiver(receiver: Any) -> bool:
    """Give an audio receiver that has not started the bridge's jitter buffer and inline
    decoding. False (aiortc's own left in place) if it is not audio, has started, or its
    private attributes are not what this was written against."""
    track = receiver.track
    if track is None or track.kind != "audio":
        return False
    queue = getattr(receiver, _PRIVATE + "decoder_queue", None)
    error = getattr(receiver, _PRIVATE + "decoder_error", None)
    frames = getattr(track, "_queue", None)
    if (
        getattr(receiver, _PRIVATE + "decoder_thread", "missing") is not None
        or not isinstance(getattr(receiver, _PRIVATE + "jitter_buffer", None), JitterBuffer)
        or queue is None
        or not hasattr(queue, "put")
        or error is None
        or frames is None
    ):
        return False
    setattr(receiver, _PRIVATE + "jitter_buffer", AudioJitterBuffer())
    setattr(receiver, _PRIVATE + "decoder_queue", InlineDecoding(frames, error))
    return True
