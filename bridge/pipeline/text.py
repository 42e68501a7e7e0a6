"""Split streaming LLM text into clauses so speech synthesis can start before the reply ends."""

from __future__ import annotations

import re

# Words whose trailing period does not end a sentence.
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st vs etc e.g i.e a.m p.m no approx dept inc ltd co".split()
)
_SENTENCE_END = re.compile(r"[.!?…]+[\"')\]]*\s")
_CLAUSE_END = re.compile(r"[,;:—–]\s")
_NEWLINE = re.compile(r"\n+")
# Where a first clause may break without punctuation: before a word that opens a phrase.
_PHRASE_START = re.compile(
    r"\s(?=(?:and|but|or|so|because|from|until|to|in|at|on|for|with|when|if|which|that|"
    r"between|after|before|during|about)\s)",
    re.IGNORECASE,
)


# No clause is longer: the voice's working memory is sized at start-up for a clause this long
# (bridge.pipeline.engines.warm_up), so a longer one would grow the process in mid-call.
MAX_CLAUSE_CHARS = 100


class ClauseSplitter:
    """Feed text deltas; get back clauses that are ready to speak.

    A sentence end always splits. A comma, semicolon or colon splits only once the clause is
    long enough to sound natural on its own (shorter for the first clause, so the caller hears
    something quickly). The first clause may also break before a word that opens a phrase
    ("We are open | from nine until five."): synthesis of a long first sentence would otherwise
    hold back the start of the reply. Text that runs on past ``max_clause_chars`` without
    any of these breaks before a phrase, or else between words.
    """

    def __init__(
        self,
        first_clause_chars: int = 12,
        clause_chars: int = 40,
        max_clause_chars: int = MAX_CLAUSE_CHARS,
    ) -> None:
        self._first_clause_chars = first_clause_chars
        self._clause_chars = clause_chars
        self._max_clause_chars = max_clause_chars
        self._buffer = ""
        self._emitted = 0

    def feed(self, delta: str) -> list[str]:
        self._buffer += delta
        clauses: list[str] = []
        while (cut := self._next_cut()) is not None:
            clause, self._buffer = self._buffer[:cut].strip(), self._buffer[cut:]
            if clause:
                clauses.append(clause)
                self._emitted += 1
        return clauses

    def flush(self) -> list[str]:
        clause, self._buffer = self._buffer.strip(), ""
        if not clause:
            return []
        self._emitted += 1
        return [clause]

    def _next_cut(self) -> int | None:
        text = self._buffer
        if match := _NEWLINE.search(text):
            return match.end()
        for match in _SENTENCE_END.finditer(text):
            if not self._is_abbreviation(text, match.start()):
                return match.end()
        min_chars = self._first_clause_chars if self._emitted == 0 else self._clause_chars
        for match in _CLAUSE_END.finditer(text):
            if match.start() >= min_chars and not _inside_number(text, match.start()):
                return match.end()
        if self._emitted == 0:
            for match in _PHRASE_START.finditer(text):
                if match.start() >= min_chars - 2 and len(text[: match.start()].split()) >= 3:
                    return match.end()
        if len(text) > self._max_clause_chars:
            head = text[: self._max_clause_chars + 1]
            phrases = [m.end() for m in _PHRASE_START.finditer(head) if m.start() >= min_chars]
            if phrases:
                return phrases[-1]
            space = head.rstrip().rfind(" ")
            return space + 1 if space > 0 else self._max_clause_chars
        return None

    @staticmethod
    def _is_abbreviation(text: str, dot: int) -> bool:
        if text[dot] != ".":
            return False
        word = text[:dot].rsplit(maxsplit=1)[-1].lower() if text[:dot].strip() else ""
        # Single letters ("J. Smith") and known abbreviations keep the sentence going.
        return word.rstrip(".") in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def _inside_number(text: str, index: int) -> bool:
    """True for the comma in "1,000" (a thousands separator, not a pause)."""
    return 0 < index < len(text) - 1 and text[index - 1].isdigit() and text[index + 1].isdigit()


def split_sentences(text: str) -> list[str]:
    """Split complete text into speakable clauses, using the same rules as streaming."""
    splitter = ClauseSplitter()
    return [*splitter.feed(text), *splitter.flush()]
