"""Which waiting jobs go to a model together, and when: the sans-I/O core of cross-call batching.

Calls ask for transcriptions independently; a GPU (and, less so, a CPU) does several in one
``generate`` call for little more than the price of one. This queue decides, given the time,
which jobs form the next batch. The thread that runs the model (:mod:`bridge.pipeline.stt_batch`)
asks :meth:`BatchQueue.take` when it is free and sleeps until :meth:`BatchQueue.next_deadline`
otherwise; nothing here reads a clock or blocks, so tests drive it with plain numbers.

The rules:

- Only jobs with the same ``group`` share a batch (for Whisper: the same window and prompt
  length, which is what keeps a batched transcript identical to an unbatched one).
- Order is by ``arrival + (early_delay if early)``: a final transcription (someone waits for
  it) goes before an early one that arrived less than ``early_delay`` before it. An early job is
  never starved either: its place in the order is fixed when it arrives, and later arrivals
  sort after it once ``early_delay`` has passed; by then its turn has usually ended and it is
  the final transcription in all but name.
- A free worker takes the first job's batch at once when the batch is full; otherwise it waits
  for more to join until the first job has waited ``max_wait`` (a few milliseconds). Jobs that
  queued while the worker was busy have waited long enough already: no wait is added under
  load, and at most ``max_wait`` when idle.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(order=True)
class _Entry(Generic[T]):
    rank: tuple[float, int]
    arrival: float = field(compare=False)
    group: Hashable = field(compare=False)
    job: T = field(compare=False)


class BatchQueue(Generic[T]):
    def __init__(self, *, max_size: int, max_wait: float, early_delay: float) -> None:
        if max_size < 1:
            raise ValueError(f"max_size must be at least 1, not {max_size}")
        if max_wait < 0 or early_delay < 0:
            raise ValueError("max_wait and early_delay cannot be negative")
        self.max_size = max_size
        self.max_wait = max_wait
        self.early_delay = early_delay
        self._entries: list[_Entry[T]] = []
        self._sequence = itertools.count()  # ties keep arrival order

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, job: T, *, group: Hashable, now: float, early: bool = False) -> None:
        rank = (now + (self.early_delay if early else 0.0), next(self._sequence))
        self._entries.append(_Entry(rank, now, group, job))
        self._entries.sort()

    def discard(self, gone: Callable[[T], bool]) -> None:
        """Forget the jobs nobody waits for any more (cancelled)."""
        self._entries = [entry for entry in self._entries if not gone(entry.job)]

    def _batch(self) -> list[_Entry[T]]:
        first = self._entries[0]
        same = [entry for entry in self._entries if entry.group == first.group]
        return same[: self.max_size]

    def next_deadline(self) -> float | None:
        """When :meth:`take` will give a batch even if nothing else arrives (None: empty)."""
        if not self._entries:
            return None
        if len(self._batch()) >= self.max_size:
            return self._entries[0].arrival
        return self._entries[0].arrival + self.max_wait

    def take(self, now: float) -> list[T]:
        """The next batch, in order, removed from the queue; empty while it should wait."""
        deadline = self.next_deadline()
        if deadline is None or now < deadline:
            return []
        batch = self._batch()
        chosen = {id(entry) for entry in batch}
        self._entries = [entry for entry in self._entries if id(entry) not in chosen]
        return [entry.job for entry in batch]
