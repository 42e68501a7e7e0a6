"""Filling in a user item's transcripts, and reporting them as the realtime API does."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from bridge import observe
from bridge.engine import events as ev
from bridge.engine.items import InputAudioPart, MessageItem
from bridge.logging import get_logger
from bridge.pipeline.stt import Transcript

log = get_logger("bridge.engine.transcription")

Emit = Callable[[ev.EngineEvent], None]


async def transcribe_item(
    item: MessageItem,
    transcribe: Callable[[bytes], Awaitable[Transcript]],
    emit: Emit,
    *,
    report: bool,
    early: asyncio.Task[Transcript] | None = None,
) -> None:
    """Transcribe each audio part still without a transcript (``transcribe`` takes the part's
    wire audio). ``early``: a transcription of the same audio already under way. A failure is
    reported and leaves an empty transcript; it never ends the session."""
    for index, part in enumerate(item.content):
        if (
            not isinstance(part, InputAudioPart)
            or part.audio is None
            or part.transcript is not None
        ):
            continue
        try:
            with observe.span("stt", **{"bridge.early": early is not None}) as span:
                result = await early if early is not None else await transcribe(part.audio)
                span.set(**_stt_attributes(result))
        except Exception as exc:  # any engine failure is reported, never fatal
            log.warning("transcription failed", item_id=item.id, error=str(exc))
            part.transcript = ""
            if report:
                emit(ev.InputAudioTranscriptionFailed(item.id, index, str(exc)))
            continue
        finally:
            early = None  # one early job covers the first audio part only
        part.transcript = result.text
        observe.timing("stt", result.elapsed_s)
        observe.timing("transcription_wait", result.queued_s)
        if report:
            if result.text:
                emit(ev.InputAudioTranscriptionDelta(item.id, index, result.text))
            emit(ev.InputAudioTranscriptionCompleted(item.id, index, result.text, result.audio_s))


def _stt_attributes(result: Transcript) -> dict[str, observe.Attribute]:
    """What a trace says of a transcription: sizes and times, never the words."""
    return {
        "bridge.transcript_chars": len(result.text),
        "bridge.audio_s": result.audio_s,
        "bridge.stt_s": result.elapsed_s,
        "bridge.queued_s": result.queued_s,
    }
