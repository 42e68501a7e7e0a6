"""Cutting an assistant message's audio (and its transcript) at what the listener heard.

One rounding rule for every door: the audio is cut at the last whole sample at or before
``audio_end_ms``, and the transcript keeps the words whose audio had started by then.
"""

from __future__ import annotations

from bridge.audio.format import AudioFormat
from bridge.engine import errors
from bridge.engine.errors import CommandError
from bridge.engine.items import AudioPart, Item, MessageItem
from bridge.engine.listener import AssistantAudio


def audio_part(item: Item, content_index: int) -> AudioPart:
    """The assistant audio part a truncation names, or the error the API gives."""
    if not isinstance(item, MessageItem) or item.role != "assistant":
        raise CommandError(
            errors.INVALID_VALUE, "Only assistant messages can be truncated.", "item_id"
        )
    part = item.content[content_index] if 0 <= content_index < len(item.content) else None
    if not isinstance(part, AudioPart):
        raise CommandError(errors.INVALID_VALUE, "The content part is not audio.", "content_index")
    return part


def truncate_audio(
    part: AudioPart, audio_end_ms: int, fmt: AudioFormat, record: AssistantAudio | None
) -> None:
    """Keep the first ``audio_end_ms`` of ``part``; ``record`` (when the engine spoke it) knows
    which words each clause's audio carries, else words are kept in proportion."""
    bytes_per_ms = record.bytes_per_ms if record else fmt.sample_rate * fmt.bytes_per_sample / 1000
    audio = part.audio or b""
    duration_ms = len(audio) / bytes_per_ms
    if audio_end_ms > duration_ms + 1:
        raise CommandError(
            errors.INVALID_VALUE,
            f"Audio content of {int(duration_ms)}ms is shorter than {audio_end_ms}ms.",
            "audio_end_ms",
        )
    cut = int(audio_end_ms * bytes_per_ms)
    part.audio = audio[: cut - cut % fmt.bytes_per_sample]
    if record is not None:
        part.transcript = record.spoken.heard_until(audio_end_ms)
    else:
        words = part.transcript.split()
        share = audio_end_ms / duration_ms if duration_ms else 0
        part.transcript = " ".join(words[: round(len(words) * share)])
