"""Turn-taking figures from what the simulated callers heard (sans-I/O: reports in, numbers out).

Every judgement is made at the caller's ear, so it holds whatever the engine does inside:

- a mid-turn pause is a **false cut-off** when agent audio reached the caller before the
  caller's last audible frame (the agent answered in the pause), or when the engine ended the
  turn in the pause even if the caller's next words cancelled that reply before any of it was
  heard (:func:`split_items`, from what the LLM was asked);
- the **turn gap** of a complete question runs from the caller's last audible frame to the
  first audible agent frame;
- the agent **stopped** for an overlap at the end of the last frame the ear got from it before
  a stretch of at least :data:`HOLE_S` with none; **stop latency** runs from the caller's
  onset to that moment;
- a reply **went on** when the caller heard at least :data:`CONTINUED_SHARE` of the long
  answer's length (measured on ``long_answer`` items nobody talked over): a backchannel that
  did not let it go on is a **false interruption**, an interruption that did (or stopped more
  than :data:`MISSED_AFTER_S` after the caller finished) is a **missed interruption**.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bridge.audio.level import is_speech
from bridge.bench.turnset import Item
from bridge.caller.caller import Overlap, TurnReport
from bridge.testing.speech import word_error_rate

HOLE_S = 0.4  # no agent frames at the ear for this long: the agent stopped talking
CONTINUED_SHARE = 0.8  # of the long answer heard: the reply went on (a cancelled one is < 0.5)
MISSED_AFTER_S = 2.0  # still talking this long after the caller finished: it did not stop
SPLIT_WER = 0.67  # farther than this from every line of the set: not a line of the set


def split_items(items: Sequence[Item], user_texts: Sequence[str]) -> set[Item]:
    """The pause items whose turn was ended in a pause, from the user turns the LLM was asked
    to answer, each matched to the nearest line the set says: a whole utterance, the words
    before a pause, or the words after one. A turn ended in a pause leaves no transcript of
    the whole utterance, and usually one of the words after the pause on their own; a turn
    that waited leaves the whole one. The words before a pause alone are no evidence either
    way (the bridge prefetches a reply in every pause). Nearest, not equal: Whisper mangles
    fragments ("also my seat" came back "Awesome I see")."""
    lines: list[tuple[str, Item, str]] = []  # (text, its item, "whole" / "before" / "after")
    for item in items:
        parts = item.parts
        lines.append((" ".join(parts), item, "whole"))
        for pause in range(1, len(parts)):
            lines.append((" ".join(parts[:pause]), item, "before"))
            for end in range(pause + 1, len(parts) + 1):  # up to the next pause, or the end
                lines.append((" ".join(parts[pause:end]), item, "after"))
    seen: dict[str, set[Item]] = {"whole": set(), "before": set(), "after": set()}
    for text in user_texts:
        distance, index = min(
            (word_error_rate(line, text), index) for index, (line, _, _) in enumerate(lines)
        )
        _, item, kind = lines[index]
        if distance <= SPLIT_WER:
            seen[kind].add(item)
    pauses = {item for item in items if len(item.parts) > 1}
    return (pauses - seen["whole"]) | (pauses & seen["after"])


def audible_s(pcm: bytes, frame_bytes: int, frame_s: float) -> float:
    """Seconds of audible frames in 16-bit PCM cut in frames of ``frame_bytes``."""
    frames = (pcm[i : i + frame_bytes] for i in range(0, len(pcm), frame_bytes))
    return sum(frame_s for frame in frames if is_speech(frame))


@dataclass(frozen=True)
class OverlapOutcome:
    heard_s: float  # audible agent audio from the reply's start until the agent was quiet
    stop_ms: float | None  # caller's onset -> the agent's last audible frame before it stopped
    stop_after_speech_ms: float | None  # the caller's last audible frame -> that moment
    gap_ms: float  # longest stretch without agent frames after the onset, until the last one
    clear_ms: float | None  # caller's onset -> the first carrier clear

    def went_on(self, reference_s: float) -> bool:
        return self.heard_s >= CONTINUED_SHARE * reference_s


def overlap_outcome(overlap: Overlap) -> OverlapOutcome:
    """Stops are found on every frame the ear got from the agent, silent ones included (the
    quiet between words is still the reply streaming): the agent stopped where its frames
    stopped coming for :data:`HOLE_S`. The bridge sends no frames between replies."""
    frame_s = overlap.frame_s
    heard_s = sum(frame_s for _, loud in overlap.played if loud)
    clear_ms = (overlap.clears[0] - overlap.onset_at) * 1000 if overlap.clears else None
    starts = sorted(start for start, _ in overlap.played)
    before = [start for start in starts if start < overlap.onset_at]
    after = [start for start in starts if start >= overlap.onset_at]
    if not heard_s:
        return OverlapOutcome(0.0, None, None, 0.0, clear_ms)
    end = before[-1] + frame_s if before else overlap.onset_at
    stop_at: float | None = None
    gap = 0.0
    for start in after:
        hole = start - end
        if hole >= HOLE_S and stop_at is None:
            stop_at = end
        gap = max(gap, hole)
        end = max(end, start + frame_s)
    if stop_at is None:
        stop_at = end  # it stopped when its audio ended
    return OverlapOutcome(
        heard_s=round(heard_s, 3),
        stop_ms=round(max(0.0, stop_at - overlap.onset_at) * 1000, 1),
        stop_after_speech_ms=round((stop_at - overlap.speech_end_at) * 1000, 1),
        gap_ms=round(max(0.0, gap) * 1000, 1),
        clear_ms=None if clear_ms is None else round(clear_ms, 1),
    )


@dataclass
class ItemResult:
    """One item's outcome, as the JSON output lists it."""

    kind: str
    text: str
    pauses_ms: tuple[int, ...]
    after_ms: int
    answered: bool
    turn_gap_ms: float | None = None
    answered_early_ms: float | None = None  # pauses: agent audio before the caller finished
    split: bool = False  # pauses: the LLM was asked about the words after a pause alone
    heard_s: float | None = None  # long answers and overlaps: audible agent audio heard
    stop_ms: float | None = None
    stop_after_speech_ms: float | None = None
    gap_ms: float | None = None
    clear_ms: float | None = None


def item_result(
    item: Item, reports: Sequence[TurnReport], frame_bytes: int, frame_s: float
) -> ItemResult:
    """The outcome of one item from the caller's reports of its steps."""
    result = ItemResult(item.kind, item.text, item.pauses_ms, item.after_ms, answered=False)
    last = reports[-1] if reports else None
    if last is None:
        return result
    if last.overlap is not None:
        outcome = overlap_outcome(last.overlap)
        result.answered = True
        result.heard_s = outcome.heard_s
        result.stop_ms = outcome.stop_ms
        result.stop_after_speech_ms = outcome.stop_after_speech_ms
        result.gap_ms = outcome.gap_ms
        result.clear_ms = outcome.clear_ms
        return result
    result.answered = last.latency_ms is not None
    result.turn_gap_ms = last.latency_ms
    result.answered_early_ms = last.answered_early_ms
    if item.kind == "long_answer":
        result.heard_s = round(audible_s(last.heard_pcm, frame_bytes, frame_s), 3)
    return result


def pct(values: Sequence[float], percent: int) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    if len(ordered) == 1:
        return round(ordered[0], 1)
    return round(statistics.quantiles(ordered, n=100, method="inclusive")[percent - 1], 1)


def _rate(count: int, total: int) -> float | None:
    return round(count / total, 3) if total else None


def turn_summary(results: Sequence[ItemResult]) -> dict[str, Any]:
    """The run's turn-taking figures (rates are shares of the items of that kind)."""
    by_kind: dict[str, list[ItemResult]] = {}
    for result in results:
        by_kind.setdefault(result.kind, []).append(result)
    pauses = by_kind.get("pause", [])
    questions = by_kind.get("question", [])
    backchannels = by_kind.get("backchannel", [])
    interruptions = by_kind.get("interruption", [])
    references = [r.heard_s for r in by_kind.get("long_answer", []) if r.heard_s]
    reference = statistics.median(references) if references else None

    heard_cut_offs = [r for r in pauses if r.answered_early_ms is not None]
    cut_offs = [r for r in pauses if r.answered_early_ms is not None or r.split]
    gaps = [r.turn_gap_ms for r in questions if r.turn_gap_ms is not None]
    # After a pause the agent waited through: an answer to the whole utterance.
    pause_gaps = [r.turn_gap_ms for r in pauses if r.turn_gap_ms is not None and r not in cut_offs]

    def went_on(r: ItemResult) -> bool:
        return reference is not None and (r.heard_s or 0.0) >= CONTINUED_SHARE * reference

    kept = [r for r in backchannels if went_on(r)]
    stopped = [
        r
        for r in interruptions
        if not went_on(r)
        and r.stop_after_speech_ms is not None
        and r.stop_after_speech_ms <= MISSED_AFTER_S * 1000
    ]
    stops = [r.stop_ms for r in stopped if r.stop_ms is not None]
    unanswered = [r for r in (*pauses, *questions) if not r.answered]
    return {
        "long_answer_s": round(reference, 2) if reference is not None else None,
        "pause_items": len(pauses),
        "false_cutoffs": len(cut_offs),
        "false_cutoff_rate": _rate(len(cut_offs), len(pauses)),
        "cutoffs_heard": len(heard_cut_offs),  # of which agent audio reached the caller
        "pause_turn_gap_p50_ms": pct(pause_gaps, 50),
        "questions": len(questions),
        "question_turn_gap_p50_ms": pct(gaps, 50),
        "question_turn_gap_p95_ms": pct(gaps, 95),
        "question_turn_gap_max_ms": round(max(gaps), 1) if gaps else None,
        "unanswered": len(unanswered),
        "backchannels": len(backchannels),
        "false_interruptions": len(backchannels) - len(kept) if reference else None,
        "false_interruption_rate": (
            _rate(len(backchannels) - len(kept), len(backchannels)) if reference else None
        ),
        "backchannel_rest_heard": len(kept) if reference else None,
        "backchannel_gap_p50_ms": pct([r.gap_ms for r in kept if r.gap_ms is not None], 50),
        "backchannel_gap_max_ms": max((r.gap_ms or 0.0 for r in kept), default=None),
        "interruptions": len(interruptions),
        "missed_interruptions": len(interruptions) - len(stopped) if reference else None,
        "stop_latency_p50_ms": pct(stops, 50),
        "stop_latency_p95_ms": pct(stops, 95),
        "stop_latency_max_ms": round(max(stops), 1) if stops else None,
        "interruption_clear_p50_ms": pct(
            [r.clear_ms for r in interruptions if r.clear_ms is not None], 50
        ),
    }
