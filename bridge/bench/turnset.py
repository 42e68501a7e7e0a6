"""The turn-taking test set: what a caller says to find out whether the agent waits through a
mid-turn pause, answers a finished question fast, keeps talking over a backchannel and stops
for a real interruption.

The set is text and timings, not recordings: each phrase is spoken with the bundled Piper voice
(deterministic, noise off) when a run starts, trimmed of its own leading and trailing silence,
and joined with silences of exactly the listed lengths. That keeps the pauses exact and
reviewable, keeps binary files out of the repository, and the voice is the same one the bridge
ships. Pauses follow fillers ("um", "uh") and conjunctions ("and", "because"): Piper says a cut
sentence with falling intonation, so a pause after a finished-sounding phrase would not be a
fair mid-turn pause (see DESIGN.md, "Turn-taking").
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from bridge.audio import StreamResampler
from bridge.testing.speech import silence_pcm, trimmed

Kind = Literal["pause", "question", "backchannel", "interruption", "long_answer"]
KINDS: tuple[Kind, ...] = ("pause", "question", "backchannel", "interruption", "long_answer")

# What the caller says to get the long answer that backchannels and interruptions talk over.
LONG_ANSWER_REQUEST = "Please tell me the long story about your company."


@dataclass(frozen=True)
class Item:
    """One thing a caller does. ``parts`` are spoken in order with ``pauses_ms`` between them;
    backchannels and interruptions are spoken ``after_ms`` into the agent's long answer."""

    kind: Kind
    parts: tuple[str, ...]
    pauses_ms: tuple[int, ...] = ()
    after_ms: int = 0

    def __post_init__(self) -> None:
        if len(self.pauses_ms) != len(self.parts) - 1:
            raise ValueError(f"{self.parts!r}: one pause between each two parts")

    @property
    def text(self) -> str:
        return " … ".join(self.parts)


def _pause(*spoken: str | int) -> Item:
    parts = tuple(part for part in spoken if isinstance(part, str))
    pauses = tuple(part for part in spoken if isinstance(part, int))
    return Item("pause", parts, pauses)


PAUSES = (
    _pause("I'd like to book a table for, um,", 600, "four people on Saturday."),
    _pause("I want to change my flight and", 700, "also my seat."),
    _pause("Can you tell me, uh,", 500, "what time the pharmacy closes?"),
    _pause("I need to cancel my order because", 900, "it arrived broken."),
    _pause("I was wondering if", 400, "you deliver on Sundays."),
    _pause("So the problem is that, uh,", 800, "the app keeps crashing."),
    _pause("I'd like to pay by card, but", 600, "the expiry date has changed."),
    _pause("Could you check whether, um,", 500, "my refund went through?"),
    _pause("We arrive on Friday and", 800, "we need a room for three nights."),
    _pause("I'm calling about, uh,", 900, "the bill I got last week."),
    _pause("I think I want the, um,", 400, "the bigger plan."),
    _pause("I want to book, um,", 500, "a table for two, and", 700, "a parking space."),
)
QUESTIONS = tuple(
    Item("question", (text,))
    for text in (
        "What time do you open tomorrow morning?",
        "Can I change the delivery address for my order?",
        "Do you have any tables free on Friday evening?",
        "How much does the standard plan cost per month?",
        "Is there parking near your office in town?",
        "Can I speak to someone about my bill?",
        "What is the address of your shop?",
        "Are you open on public holidays?",
        "How long does delivery take to London?",
        "Do you accept credit cards?",
    )
)
BACKCHANNELS = tuple(
    Item("backchannel", (text,), after_ms=after_ms)
    for after_ms in (1500, 3000)
    for text in ("Uh-huh.", "Yeah.", "Okay.", "Mm-hmm.", "Right.")
)
INTERRUPTIONS = tuple(
    Item("interruption", (text,), after_ms=after_ms)
    for text, after_ms in (
        ("Stop, wait.", 1500),
        ("No, that's wrong.", 2000),
        ("Wait, wait, stop.", 2500),
        ("No, no, hold on.", 1500),
        ("Sorry, stop there.", 3000),
        ("Stop, wait.", 3000),
    )
)
# The long answer heard to its end with nobody talking over it: the reference length against
# which "the caller heard the rest of the answer" is judged.
LONG_ANSWER = Item("long_answer", (LONG_ANSWER_REQUEST,))


def turn_set(*, short: bool = False, long_answers: int = 1) -> list[Item]:
    """The whole set, or the short one CI runs (a few items of each kind, including a pause
    shorter and one longer than today's 500 ms silence rule)."""
    if short:
        pauses = [item for item in PAUSES if item.pauses_ms in ((400,), (900,))][:2]
        return [*pauses, *QUESTIONS[:2], BACKCHANNELS[0], INTERRUPTIONS[0], LONG_ANSWER]
    return [
        *PAUSES,
        *QUESTIONS,
        *BACKCHANNELS,
        *INTERRUPTIONS,
        *[LONG_ANSWER] * max(1, long_answers),
    ]


def spread(items: Iterable[Item], calls: int) -> list[list[Item]]:
    """Deal the items to ``calls`` callers in turn, long answers first (every call's other
    items then run against a bridge that has already answered once)."""
    ordered = sorted(items, key=lambda item: item.kind != "long_answer")
    hands: list[list[Item]] = [[] for _ in range(max(1, calls))]
    for index, item in enumerate(ordered):
        hands[index % len(hands)].append(item)
    return hands


class Voice:
    """Speaks the set's phrases at the wire's rate, each synthesized once."""

    def __init__(self, synthesize: Callable[[str], bytes], tts_rate: int, wire_rate: int) -> None:
        self._synthesize = synthesize
        self._tts_rate = tts_rate
        self.rate = wire_rate

    @functools.cache  # noqa: B019 - one Voice per run; the cache is the point
    def phrase(self, text: str) -> bytes:
        pcm = trimmed(self._synthesize(text))
        return StreamResampler(self._tts_rate, self.rate).process(pcm)

    def utterance(self, item: Item) -> bytes:
        """The item's parts with its pauses between them, at the wire's rate."""
        pcm = self.phrase(item.parts[0])
        for pause_ms, part in zip(item.pauses_ms, item.parts[1:], strict=True):
            pcm += silence_pcm(pause_ms, self.rate) + self.phrase(part)
        return pcm
