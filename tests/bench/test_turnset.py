"""The turn-taking test set: what it holds, how it is dealt to callers, and that its pauses are
exactly as long as listed once spoken."""

from __future__ import annotations

import struct

import pytest

from bridge.bench.turnset import (
    BACKCHANNELS,
    INTERRUPTIONS,
    KINDS,
    PAUSES,
    QUESTIONS,
    Item,
    Voice,
    spread,
    turn_set,
)
from bridge.testing.speech import normalize_words

# What a pause may follow: a filler or a conjunction (Piper says a cut sentence with falling
# intonation, so a pause after a finished-sounding phrase would not be a mid-turn pause).
BEFORE_A_PAUSE = {"um", "uh", "and", "but", "because", "if"}


def test_mid_turn_pauses_are_400_to_900_ms_after_fillers_and_conjunctions() -> None:
    assert len(PAUSES) >= 10
    for item in PAUSES:
        assert all(400 <= pause <= 900 for pause in item.pauses_ms), item
        for before in item.parts[:-1]:
            assert normalize_words(before)[-1] in BEFORE_A_PAUSE, item
    lengths = {pause for item in PAUSES for pause in item.pauses_ms}
    assert min(lengths) == 400
    assert max(lengths) == 900


def test_the_set_has_the_issue_s_backchannels_and_interruptions() -> None:
    said = {item.text.lower() for item in BACKCHANNELS}
    assert {"uh-huh.", "yeah.", "okay.", "mm-hmm.", "right."} <= said
    stops = {item.text.lower() for item in INTERRUPTIONS}
    assert {"stop, wait.", "no, that's wrong."} <= stops
    assert all(item.after_ms >= 1000 for item in (*BACKCHANNELS, *INTERRUPTIONS))
    assert all(len(item.parts) == 1 for item in QUESTIONS)


def test_the_short_set_has_every_kind_and_pauses_either_side_of_500_ms() -> None:
    short = turn_set(short=True)
    assert {item.kind for item in short} == set(KINDS)
    pauses = [pause for item in short for pause in item.pauses_ms]
    assert min(pauses) < 500 < max(pauses)
    full = turn_set(long_answers=2)
    assert len(full) > 2 * len(short)
    assert sum(item.kind == "long_answer" for item in full) == 2


def test_items_are_dealt_to_callers_in_turn_long_answers_first() -> None:
    items = turn_set(long_answers=2)
    hands = spread(items, 2)
    assert sorted(map(len, hands)) in (
        [len(items) // 2] * 2,
        [len(items) // 2, -(-len(items) // 2)],
    )
    assert all(hand[0].kind == "long_answer" for hand in hands)
    assert sorted(hands[0] + hands[1], key=repr) == sorted(items, key=repr)


def test_an_item_needs_one_pause_between_each_two_parts() -> None:
    with pytest.raises(ValueError, match="one pause between"):
        Item("pause", ("one,", "two"))


RATE = 8000


def spoken(text: str) -> bytes:
    """A "voice": 50 ms of silence, a square wave as long as the text (10 ms a letter), 50 ms
    of silence."""
    tone = b"".join(
        struct.pack("<h", 8000 if (n // 9) % 2 else -8000) for n in range(RATE * len(text) // 100)
    )
    edge = bytes(2 * RATE // 20)
    return edge + tone + edge


def test_phrases_are_trimmed_and_pauses_are_exact() -> None:
    voice = Voice(spoken, RATE, RATE)
    item = Item("pause", ("I want, um,", "two."), (700,))
    pcm = voice.utterance(item)
    first, second = (len(spoken(part)) - 2 * 2 * RATE // 20 for part in item.parts)
    assert len(pcm) == first + 2 * RATE * 700 // 1000 + second
    pause = pcm[first : first + 2 * RATE * 700 // 1000]
    assert pause == bytes(len(pause))
    assert voice.phrase("two.") is voice.phrase("two.")  # synthesized once
