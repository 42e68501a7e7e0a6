"""The caller's words transcribed during a pause, before anyone knows the turn has ended.

When the caller has been quiet for a moment mid-speech, the speech so far is transcribed at
once: if the pause ends the turn, its transcript is (nearly) ready instead of only then begun,
and a reply can be asked for meanwhile (:mod:`bridge.engine.prefetch`). If the caller talks
on, the job is stale and dropped. At most one job exists for the pause under way; the turn's
item takes over the one whose audio matches.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from bridge.pipeline.stt import Transcript

Job = asyncio.Task[Transcript]
# Quiet this long mid-speech, the turn so far is transcribed; with the end-of-turn model a turn
# can end at 200 ms of quiet, so sooner (two VAD windows).
EARLY_MS = 120
EARLY_MODEL_MS = 64


def _retrieve(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()  # a stale job's failure is nobody's business


class EarlyTranscripts:
    def __init__(
        self,
        transcribe: Callable[[float], Coroutine[Any, Any, Transcript]],
        on_done: Callable[[Job], None],
        on_drop: Callable[[], None],
    ) -> None:
        """``transcribe(end_ms)``: the speech up to stream time ``end_ms``, as text;
        ``on_done(job)``: a job finished (the reply may be asked for); ``on_drop()``: the
        words so far are not the turn after all (drop a reply asked for them)."""
        self._transcribe = transcribe
        self._on_done = on_done
        self._on_drop = on_drop
        self._job: tuple[float, Job] | None = None
        self._for_item: dict[str, Job] = {}

    @property
    def job(self) -> Job | None:
        """The job for the pause under way, if one was started."""
        return self._job[1] if self._job is not None else None

    def job_for(self, end_ms: float) -> Job | None:
        """The job for the pause after speech that ended at ``end_ms``, if one was started."""
        return self._job[1] if self._job is not None and self._job[0] == end_ms else None

    def text_for(self, end_ms: float) -> str | None:
        """The words up to ``end_ms``, once transcribed (None: not yet, or it failed)."""
        job = self.job_for(end_ms)
        if job is None or not job.done() or job.cancelled() or job.exception() is not None:
            return None
        return job.result().text

    async def wait_text(self, end_ms: float) -> str | None:
        """:meth:`text_for`, after waiting for a job in flight."""
        job = self.job_for(end_ms)
        if job is not None:
            await asyncio.wait([job])
        return self.text_for(end_ms)

    def update(self, pause: tuple[float, int] | None, after_ms: int) -> None:
        """After each chunk of audio: start a job once the caller has been quiet ``after_ms``;
        drop the one in flight when they spoke on."""
        if pause is None:
            return
        end_ms, quiet_ms = pause
        if self._job is not None and self._job[0] != end_ms:
            self.drop()  # the caller went on talking: that transcript is stale
        if quiet_ms < after_ms or self._job is not None:
            return
        job = asyncio.create_task(self._transcribe(end_ms))
        job.add_done_callback(_retrieve)
        job.add_done_callback(self._on_done)
        self._job = (end_ms, job)

    def turn_ended(self, item_id: str, end_ms: float) -> None:
        """The turn ending at ``end_ms`` became ``item_id``: a job on that same audio is its
        transcription (:meth:`take`); any other is stale."""
        job, self._job = self._job, None
        if job is not None and job[0] == end_ms:
            self._for_item[item_id] = job[1]
        elif job is not None:
            job[1].cancel()

    def take(self, item_id: str) -> Job | None:
        return self._for_item.pop(item_id, None)

    def drop(self) -> None:
        if self._job is not None:
            self._job[1].cancel()
            self._job = None
        self._on_drop()

    def close(self) -> None:
        self.drop()
        for job in self._for_item.values():
            job.cancel()
        self._for_item.clear()
