"""One info line per answered turn: what was heard, what was said, and how long it took.

Latency runs from the end of the caller's speech (dated by the VAD, not by when the silence
proved the turn over) to the reply's first audio leaving the engine. With
``BRIDGE_LOG_TRANSCRIPTS=false`` the words stay out of the log; their lengths are logged.

It also holds the turn's ``turn`` span (:mod:`bridge.observe`): from the end of the caller's
speech (or a manual commit) to the ``response.done`` of the reply; the session makes it the
current span for the turn's transcription and reply, so their spans are its children.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager

from bridge import observe
from bridge.audio.level import is_speech
from bridge.engine.history import History
from bridge.engine.input_audio import TRAILING_PAD_MS, InputAudio
from bridge.engine.items import AudioPart, InputAudioPart, MessageItem, TextPart
from bridge.engine.responder import ResponseRun
from bridge.logging import get_logger

log = get_logger("bridge.turns")


class TurnLog:
    def __init__(self, *, transcripts: bool, clock: Callable[[], float] = time.monotonic) -> None:
        self._transcripts = transcripts
        self._clock = clock
        self._turn: tuple[str, float] | None = None  # the caller's last turn: item id, end
        self.span: observe.Span | None = None  # the open turn's span, until it is answered
        self._span_item: str | None = None

    def committed(self, item_id: str) -> None:
        """The caller's audio became item ``item_id``: a turn (and its span) starts."""
        self.close()
        self.span = observe.start_span("turn", **{"bridge.item_id": item_id})
        self._span_item = item_id

    def within(self, item_id: str | None = None) -> AbstractContextManager[None]:
        """Make the open turn's span current (with ``item_id``: only if that item is the
        turn's input), so the spans started inside are the turn's."""
        return observe.within(self.span if item_id in (None, self._span_item) else None)

    def close(self, **attributes: observe.Attribute) -> None:
        """End the open turn's span (answered, or left without a reply)."""
        if self.span is not None:
            self.span.set(**attributes)
            self.span.end()
        self.span = self._span_item = None

    def turn_ended(self, item_id: str, audio: InputAudio, end_ms: float, pcm: bytes) -> None:
        """The VAD ended a turn at ``end_ms`` of the stream; ``pcm`` is the turn's audio (to a
        little past ``end_ms``). The turn is dated by its last audible 20 ms, as a caller
        hears it: the VAD's end (a lower, hysteresis threshold) runs some tens of ms later."""
        pcm_end_ms = min(audio.stream_ms, end_ms + TRAILING_PAD_MS)  # what take() cut
        heard_end_ms = min(end_ms, last_audible_ms(pcm, audio.rate, pcm_end_ms))
        self._turn = (item_id, self._clock() - max(0.0, audio.stream_ms - heard_end_ms) / 1000)

    def answered(self, run: ResponseRun, history: History) -> None:
        """Log a finished response (with the turn it answered, if one is waiting)."""
        turn, self._turn = self._turn, None
        heard: str | None = None
        latency_ms: float | None = None
        if turn is not None:
            item_id, ended_at = turn
            heard = _transcript(history, item_id)
            first_audio = run.audio.first_audio_at if run.audio is not None else None
            if first_audio is not None:
                latency_ms = round((first_audio - ended_at) * 1000)
                observe.timing("turn_gap", first_audio - ended_at)
        said = _said(run)
        self.close(**_span_attributes(run, heard, said, latency_ms))
        if heard is None and not said:
            return
        fields: dict[str, object] = {"status": run.response.status, "latency_ms": latency_ms}
        if self._transcripts:
            fields |= {"heard": heard, "said": said}
        else:
            fields |= {"heard_chars": len(heard or ""), "said_chars": len(said)}
        log.info("turn", **fields)


def _span_attributes(
    run: ResponseRun, heard: str | None, said: str, latency_ms: float | None
) -> dict[str, observe.Attribute]:
    """What a turn's span says of it: lengths, never the words."""
    attributes: dict[str, observe.Attribute] = {
        "bridge.response_id": run.response.id,
        "bridge.response_status": run.response.status,
        "bridge.heard_chars": len(heard or ""),
        "bridge.said_chars": len(said),
    }
    if latency_ms is not None:
        attributes["bridge.turn_gap_ms"] = latency_ms
    return attributes


def last_audible_ms(pcm: bytes, rate: int, pcm_end_ms: float, frame_ms: int = 20) -> float:
    """Stream time where the last audible ``frame_ms`` of ``pcm`` (16-bit, ending at stream
    time ``pcm_end_ms``) ends; ``pcm_end_ms`` when none is audible."""
    frame = rate * 2 * frame_ms // 1000
    end = len(pcm) - len(pcm) % 2
    while end >= frame:
        if is_speech(pcm[end - frame : end]):
            return pcm_end_ms - (len(pcm) - end) / (rate * 2) * 1000
        end -= frame
    return pcm_end_ms


def _transcript(history: History, item_id: str) -> str | None:
    item = next((i for i in history if i.id == item_id), None)
    if not isinstance(item, MessageItem):
        return None
    parts = [p.transcript for p in item.content if isinstance(p, InputAudioPart)]
    return " ".join(p for p in parts if p) or ""


def _said(run: ResponseRun) -> str:
    words: list[str] = []
    for item in run.response.output:
        if isinstance(item, MessageItem):
            for part in item.content:
                if isinstance(part, AudioPart):
                    words.append(part.transcript)
                elif isinstance(part, TextPart):
                    words.append(part.text)
    return " ".join(w for w in words if w)
