"""The turn-taking figures, judged from timelines of what a caller's ear heard (no models, no
sockets): when the agent stopped, whether a reply went on, whether a turn was split."""

from __future__ import annotations

import pytest

from bridge.bench.turn_metrics import (
    ItemResult,
    item_result,
    overlap_outcome,
    split_items,
    turn_summary,
)
from bridge.bench.turnset import Item, turn_set
from bridge.caller.caller import Overlap, TurnReport

FRAME_S = 0.02


def frames(start: float, end: float, audible: bool = True) -> list[tuple[float, bool]]:
    count = round((end - start) / FRAME_S)
    return [(start + i * FRAME_S, audible) for i in range(count)]


def overlap(played: list[tuple[float, bool]], clears: list[float] | None = None) -> Overlap:
    # The reply starts at 10.0 s; the caller talks from 11.5 s to 12.0 s.
    return Overlap(10.0, 11.5, 12.0, clears or [], played, FRAME_S)


def test_a_reply_cleared_at_once_stops_at_its_last_frame_heard() -> None:
    # Cleared 120 ms into the caller's speech; "Okay." answers the interruption later.
    played = frames(10.0, 11.62) + frames(12.8, 13.3)
    outcome = overlap_outcome(overlap(played, clears=[11.62]))
    assert outcome.stop_ms == pytest.approx(120, abs=1)
    assert outcome.stop_after_speech_ms == pytest.approx(-380, abs=1)
    assert outcome.clear_ms == pytest.approx(120, abs=1)
    assert outcome.heard_s == pytest.approx(2.12, abs=0.01)
    assert outcome.gap_ms == pytest.approx(1180, abs=1)
    assert not outcome.went_on(reference_s=9.0)


def test_a_reply_paused_and_resumed_went_on_with_its_gap() -> None:
    played = frames(10.0, 11.6) + frames(12.2, 17.8)
    outcome = overlap_outcome(overlap(played))
    assert outcome.stop_ms == pytest.approx(100, abs=1)
    assert outcome.gap_ms == pytest.approx(600, abs=1)
    assert outcome.went_on(reference_s=8.0)


def test_silence_inside_speech_is_not_a_stop() -> None:
    # Quiet frames between words still stream: no stop until the reply ends.
    played = frames(10.0, 11.4) + frames(11.4, 12.3, audible=False) + frames(12.3, 16.0)
    outcome = overlap_outcome(overlap(played))
    assert outcome.stop_ms == pytest.approx(4500, abs=1)
    assert outcome.stop_after_speech_ms == pytest.approx(4000, abs=1)
    assert outcome.gap_ms == 0.0
    assert outcome.heard_s == pytest.approx(5.1, abs=0.01)


def test_a_stop_in_a_quiet_moment_is_timed_by_the_frames_not_the_sound() -> None:
    # The caller starts while the agent is between words; the clear comes 140 ms later.
    played = frames(10.0, 11.4) + frames(11.4, 11.64, audible=False)
    outcome = overlap_outcome(overlap(played, clears=[11.64]))
    assert outcome.stop_ms == pytest.approx(140, abs=1)


def test_no_reply_heard_is_no_stop() -> None:
    outcome = overlap_outcome(overlap([]))
    assert outcome.heard_s == 0.0
    assert outcome.stop_ms is None


CANCEL = Item("pause", ("I need to cancel my order because", "it arrived broken."), (900,))
BOOK = Item(
    "pause", ("I want to book, um,", "a table for two, and", "a parking space."), (500, 700)
)
SET = [CANCEL, BOOK, *turn_set(short=True)]
WHOLE = [" ".join(item.parts) for item in SET]  # every utterance, said whole
OTHERS = [text for text in WHOLE if "cancel" not in text]


@pytest.mark.parametrize(
    ("asked", "split"),
    [
        (WHOLE, False),
        # A prefetch of the first words in the pause, then the whole turn: no split.
        ([*OTHERS, "I need to cancel my order because", "I need to cancel my order because it",
          "I need to cancel my order, because it arrived broken."], False),
        ([*OTHERS, "I need to cancel my order because.", "It arrived broken."], True),
        ([*OTHERS, "I need to cancel.", "That arrived broken."], True),  # Whisper on fragments
        ([*OTHERS, "I need to cancel my order because.", "Awesome I see."], True),  # no whole
        ([*WHOLE, "It arrived broken."], True),  # a fragment answered on its own
    ],
)  # fmt: skip
def test_a_turn_ended_in_the_pause_is_a_split(asked: list[str], split: bool) -> None:
    assert (CANCEL in split_items(SET, asked)) is split


def test_a_split_at_either_of_two_pauses_is_found() -> None:
    others = [text for text in WHOLE if "parking" not in text]
    assert split_items(SET, [*others, "A table for two and a parking space."]) == {BOOK}
    assert split_items(SET, [*others, "I want to book a table for two and", "parking"]) == {BOOK}
    assert split_items(SET, WHOLE) == set()


def test_only_pause_items_can_be_split() -> None:
    assert split_items(SET, []) == {item for item in SET if item.kind == "pause"}
    assert all(item.kind == "pause" for item in split_items(SET, ["Stop, wait.", "Okay."]))


def test_item_results_from_reports() -> None:
    pause = Item("pause", ("So, um,", "yes."), (600,))
    early = TurnReport("say", latency_ms=650.0, answered_early_ms=700.0)
    result = item_result(pause, [early], 320, FRAME_S)
    assert result.answered
    assert result.answered_early_ms == 700.0
    over = TurnReport("speak over", overlap=overlap(frames(10.0, 11.62)))
    story = TurnReport("say", latency_ms=600.0)
    result = item_result(Item("interruption", ("Stop.",), after_ms=1500), [story, over], 320, 0.02)
    assert result.stop_ms == pytest.approx(120, abs=1)
    loud = b"\xff\x3f" * 160  # one loud 20 ms frame at 8 kHz
    answer = TurnReport("say", latency_ms=500.0, heard_pcm=loud * 100 + bytes(320) * 10)
    result = item_result(Item("long_answer", ("Tell me.",)), [answer], 320, FRAME_S)
    assert result.heard_s == pytest.approx(2.0)
    assert not item_result(pause, [], 320, FRAME_S).answered  # the call ended before it


def _result(kind: str, **fields: object) -> ItemResult:
    return ItemResult(kind, "text", (), 0, answered=True, **fields)  # type: ignore[arg-type]


def test_the_summary_counts_each_kind() -> None:
    results = [
        _result("long_answer", heard_s=9.0),
        _result("long_answer", heard_s=8.6),
        _result("pause", turn_gap_ms=600.0),
        _result("pause", turn_gap_ms=620.0, answered_early_ms=650.0),
        _result("pause", turn_gap_ms=640.0, split=True),
        _result("pause", turn_gap_ms=700.0),
        _result("question", turn_gap_ms=500.0),
        _result("question", turn_gap_ms=700.0),
        _result("backchannel", heard_s=2.0, gap_ms=1200.0),  # cancelled
        _result("backchannel", heard_s=8.9, gap_ms=300.0),  # went on
        _result("interruption", heard_s=2.0, stop_ms=120.0, stop_after_speech_ms=-300.0,
                clear_ms=118.0),
        _result("interruption", heard_s=2.5, stop_ms=2900.0, stop_after_speech_ms=2400.0),
        _result("interruption", heard_s=8.8, stop_ms=7000.0, stop_after_speech_ms=6500.0),
    ]  # fmt: skip
    summary = turn_summary(results)
    assert summary["long_answer_s"] == pytest.approx(8.8)
    assert summary["false_cutoffs"] == 2
    assert summary["cutoffs_heard"] == 1
    assert summary["false_cutoff_rate"] == 0.5
    assert summary["pause_turn_gap_p50_ms"] == 650.0  # of the two it waited through
    assert summary["question_turn_gap_p50_ms"] == 600.0
    assert summary["question_turn_gap_max_ms"] == 700.0
    assert summary["unanswered"] == 0
    assert summary["false_interruptions"] == 1
    assert summary["false_interruption_rate"] == 0.5
    assert summary["backchannel_rest_heard"] == 1
    assert summary["backchannel_gap_max_ms"] == 300.0
    # Stopped too late (2.4 s after the caller finished) or never: missed.
    assert summary["missed_interruptions"] == 2
    assert summary["stop_latency_p50_ms"] == 120.0
    assert summary["interruption_clear_p50_ms"] == 118.0


def test_without_the_long_answer_reply_judgements_are_unknown() -> None:
    summary = turn_summary([_result("backchannel", heard_s=5.0), _result("interruption")])
    assert summary["long_answer_s"] is None
    assert summary["false_interruption_rate"] is None
    assert summary["missed_interruptions"] is None
    assert summary["false_cutoff_rate"] is None  # no pause items in this run
