"""What was said when: maps an assistant's audio position back to its transcript.

Truncating a reply at ``audio_end_ms`` (barge-in, ``conversation.item.truncate``) must keep
only the words the listener heard, so every synthesized clause is recorded with its duration.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SpokenText:
    clauses: list[tuple[str, float]] = field(default_factory=list)  # (text, audio ms)

    @property
    def duration_ms(self) -> float:
        return sum(ms for _, ms in self.clauses)

    def add(self, text: str, audio_ms: float) -> None:
        self.clauses.append((text, audio_ms))

    def heard_until(self, audio_end_ms: float) -> str:
        """The transcript up to ``audio_end_ms``: whole clauses, then a proportional share of
        the words of the clause that was playing (a word counts once it has started)."""
        heard: list[str] = []
        start = 0.0
        for text, ms in self.clauses:
            if audio_end_ms >= start + ms:
                heard.append(text)
            elif audio_end_ms > start:
                words = text.split()
                share = (audio_end_ms - start) / ms if ms else 0.0
                heard.append(" ".join(words[: int(len(words) * share + 0.999)]))
                break
            else:
                break
            start += ms
        return " ".join(piece for piece in heard if piece)
