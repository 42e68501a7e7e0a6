"""The input audio buffer of a session: decoded PCM, stream time, and server VAD.

Audio is kept as 16-bit PCM at the input format's rate. Times are stream milliseconds since the
session's first appended sample, as the API reports them (``audio_start_ms``/``audio_end_ms``).
"""

from __future__ import annotations

from dataclasses import replace

from bridge.audio import G711Law
from bridge.audio.format import AudioFormat
from bridge.engine import errors
from bridge.engine.config import SemanticVad, ServerVad, TurnDetection
from bridge.engine.errors import CommandError
from bridge.engine.turn_end import EAGERNESS
from bridge.pipeline.vad import (
    SileroVad,
    SpeechEvent,
    SpeechStarted,
    SpeechStopped,
    VadParams,
    VadStream,
)

MIN_COMMIT_MS = 100  # the API refuses to commit less
TRAILING_PAD_MS = 200  # silence kept after the last voiced window: Whisper likes a little
# Local mapping of semantic_vad eagerness to the silence that ends a turn.
SEMANTIC_SILENCE_MS = {"low": 1000, "medium": 600, "auto": 600, "high": 350}


def vad_params(
    turn_detection: TurnDetection, min_speech_ms: int, *, turn_model: bool = False
) -> VadParams | None:
    """The VAD for a session. ``semantic_vad`` with an end-of-turn model (``turn_model``) lets
    silence end a turn only after the eagerness's maximum wait: the model ends it sooner
    (:mod:`bridge.engine.turn_end`); without a model, eagerness maps onto a fixed silence."""
    if isinstance(turn_detection, ServerVad):
        return VadParams(
            threshold=turn_detection.threshold,
            prefix_padding_ms=turn_detection.prefix_padding_ms,
            silence_duration_ms=turn_detection.silence_duration_ms,
            min_speech_ms=min_speech_ms,
        )
    if isinstance(turn_detection, SemanticVad):
        eagerness = turn_detection.eagerness
        silence_ms = EAGERNESS[eagerness].max_wait_ms if turn_model else None
        return VadParams(
            silence_duration_ms=silence_ms or SEMANTIC_SILENCE_MS[eagerness],
            min_speech_ms=min_speech_ms,
        )
    return None


class InputAudio:
    def __init__(
        self,
        fmt: AudioFormat,
        vad_model: SileroVad,
        vad: VadParams | None,
        *,
        max_seconds: float,
        stream_ms: float = 0.0,
    ) -> None:
        self.format = fmt
        self.rate = fmt.sample_rate
        self._law = None if fmt.encoding == "pcm16" else G711Law(fmt.encoding)
        self._bytes_per_ms = self.rate * 2 / 1000
        self._max_bytes = int(max_seconds * 1000 * self._bytes_per_ms)
        self._vad = VadStream(vad_model, vad, self.rate) if vad is not None else None
        self._keep_ms = (vad.prefix_padding_ms + 1000) if vad is not None else None
        self._buffer = bytearray()
        self._buffer_start_ms = stream_ms  # stream time of the buffer's first sample
        self._vad_origin_ms = int(stream_ms)
        self.stream_ms = stream_ms

    @property
    def speaking(self) -> bool:
        return self._vad is not None and self._vad.speaking

    @property
    def pause(self) -> tuple[float, int] | None:
        """While the caller is speaking: where their last voiced audio ended (stream time) and
        how long they have been quiet since; None when not speaking."""
        if self._vad is None or not self._vad.speaking:
            return None
        segmenter = self._vad.segmenter
        return segmenter.last_voiced_end_ms + self._vad_origin_ms, segmenter.silence_ms

    @property
    def buffered_ms(self) -> float:
        return len(self._buffer) / self._bytes_per_ms

    def decode(self, data: bytes) -> bytes:
        """Wire bytes -> PCM, rejecting what cannot be audio in the configured format."""
        if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
            raise CommandError(
                errors.INVALID_VALUE,
                f"Audio must be raw {self.format.encoding} at {self.rate} Hz without a header, "
                "not a WAV file.",
                "audio",
            )
        if self._law is None and len(data) % 2:
            raise CommandError(
                errors.INVALID_VALUE,
                "pcm16 audio must be whole 16-bit samples (an even number of bytes).",
                "audio",
            )
        return data if self._law is None else self._law.decode(data)

    async def append(self, data: bytes) -> list[SpeechEvent]:
        pcm = self.decode(data)
        if len(self._buffer) + len(pcm) > self._max_bytes:
            limit_s = self._max_bytes / self._bytes_per_ms / 1000
            raise CommandError(
                "input_audio_buffer_full",
                f"The input audio buffer holds at most {limit_s:g} s; commit or clear it first.",
                "audio",
            )
        if self._vad is not None and not self._vad.speaking and self._keep_ms is not None:
            # Idle: keep only what a speech start could still reach back to. (Done before
            # adding, so a turn that just ended is still whole for the caller's take().)
            self._drop_before(self.stream_ms - self._keep_ms)
        self._buffer += pcm
        self.stream_ms += len(pcm) / self._bytes_per_ms
        if self._vad is None:
            return []
        # The VAD counts from its own start; report stream time.
        speech_events = [_shift(e, self._vad_origin_ms) for e in await self._vad.process(pcm)]
        for event in speech_events:
            if isinstance(event, SpeechStarted):
                self._drop_before(event.audio_start_ms)
        return speech_events

    def peek(self, end_ms: float) -> bytes:
        """What ``take(end_ms)`` would return, leaving it buffered."""
        return bytes(self._buffer[: self._offset(end_ms + TRAILING_PAD_MS)])

    def peek_all(self) -> bytes:
        """Everything buffered (while speaking: the turn so far, with its silence up to now)."""
        return bytes(self._buffer)

    def end_speech(self) -> SpeechStopped | None:
        """End the speech under way now (its end was decided without waiting out the VAD's
        silence): the event the VAD would have reported, or None when nobody is speaking."""
        stopped = self._vad.stop() if self._vad is not None else None
        return (
            None
            if stopped is None
            else replace(stopped, end_ms=stopped.end_ms + self._vad_origin_ms)
        )

    def take(self, end_ms: float | None = None) -> bytes:
        """Remove and return the buffered PCM, up to stream time ``end_ms`` (all when None)."""
        cut = len(self._buffer)
        if end_ms is not None:
            cut = min(cut, self._offset(end_ms + TRAILING_PAD_MS))
        taken = bytes(self._buffer[:cut])
        del self._buffer[:cut]
        self._buffer_start_ms += cut / self._bytes_per_ms
        return taken

    def check_commit(self) -> None:
        if self.buffered_ms < MIN_COMMIT_MS:
            raise CommandError(
                "input_audio_buffer_commit_empty",
                "Error committing input audio buffer: buffer too small. Expected at least "
                f"{MIN_COMMIT_MS}ms of audio, but buffer only has {self.buffered_ms:.2f}ms "
                "of audio.",
            )

    def clear(self) -> None:
        self.take()

    def encode_for_item(self, pcm: bytes) -> bytes:
        """PCM back to the wire format, for the ``input_audio`` part of the user's item."""
        return pcm if self._law is None else self._law.encode(pcm)

    def _offset(self, stream_ms: float) -> int:
        offset = int((stream_ms - self._buffer_start_ms) * self._bytes_per_ms)
        return max(0, min(len(self._buffer), offset - offset % 2))

    def _drop_before(self, stream_ms: float) -> None:
        cut = self._offset(stream_ms)
        if cut:
            del self._buffer[:cut]
            self._buffer_start_ms += cut / self._bytes_per_ms


def _shift(event: SpeechEvent, origin_ms: int) -> SpeechEvent:
    if isinstance(event, SpeechStopped):
        return replace(event, end_ms=event.end_ms + origin_ms)
    return replace(
        event, start_ms=event.start_ms + origin_ms, audio_start_ms=event.audio_start_ms + origin_ms
    )
