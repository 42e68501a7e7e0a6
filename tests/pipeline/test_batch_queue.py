"""The batching policy on plain numbers: which jobs go together, in what order, and when."""

import pytest

from bridge.pipeline.batch_queue import BatchQueue


def queue(max_size: int = 4, max_wait: float = 0.005, early_delay: float = 0.25) -> BatchQueue[str]:
    return BatchQueue(max_size=max_size, max_wait=max_wait, early_delay=early_delay)


def test_a_lone_job_waits_max_wait_for_company_then_goes() -> None:
    q = queue()
    q.add("a", group=1, now=10.0)
    assert q.next_deadline() == pytest.approx(10.005)
    assert q.take(10.004) == []
    q.add("b", group=1, now=10.004)
    assert q.take(10.005) == ["a", "b"]
    assert len(q) == 0
    assert q.next_deadline() is None


def test_a_full_batch_goes_at_once_and_the_rest_waits() -> None:
    q = queue(max_size=2)
    for name in "abc":
        q.add(name, group=1, now=1.0)
    assert q.take(1.0) == ["a", "b"]
    assert q.take(1.0) == []  # "c" alone waits for company
    assert q.take(1.005) == ["c"]


def test_only_jobs_of_one_group_share_a_batch() -> None:
    q = queue()
    q.add("short", group=(1200, 4), now=0.0)
    q.add("longer", group=(1300, 4), now=0.0)
    q.add("short2", group=(1200, 4), now=0.001)
    assert q.take(1.0) == ["short", "short2"]
    assert q.take(1.0) == ["longer"]


def test_finals_go_before_early_jobs_that_queued_first() -> None:
    q = queue(max_size=1, max_wait=0.0)
    q.add("early1", group="a", now=0.0, early=True)
    q.add("early2", group="b", now=0.01, early=True)
    q.add("final", group="c", now=0.02)
    assert [q.take(0.03), q.take(0.03), q.take(0.03)] == [["final"], ["early1"], ["early2"]]


def test_a_stream_of_early_jobs_never_delays_a_final_one() -> None:
    q = queue(max_size=1, max_wait=0.0)
    q.add("final", group="f", now=1.0)
    for n in range(50):  # earlies that came before it and after it
        q.add(f"early{n}", group=n, now=0.9 + n * 0.01, early=True)
    assert q.take(1.5) == ["final"]


def test_early_jobs_are_never_starved_by_a_stream_of_finals() -> None:
    q = queue(max_size=1, max_wait=0.0, early_delay=0.25)
    q.add("early", group="e", now=0.0, early=True)
    served: list[str] = []
    now = 0.0
    for n in range(100):  # a final arrives every 10 ms and one job is served every 10 ms
        q.add(f"final{n}", group=n, now=now)
        served += q.take(now)
        now += 0.01
    assert "early" in served
    assert served.index("early") <= 26  # behind the finals of its first 250 ms only


def test_early_jobs_fill_a_final_ones_batch() -> None:
    q = queue(max_size=3)
    q.add("early", group="g", now=0.0, early=True)
    q.add("other-early", group="h", now=0.0, early=True)
    q.add("final", group="g", now=0.1)
    assert q.take(0.2) == ["final", "early"]


def test_cancelled_jobs_are_discarded() -> None:
    q = queue()
    q.add("kept", group=1, now=0.0)
    q.add("gone", group=1, now=0.0)
    q.discard(lambda job: job == "gone")
    assert q.take(1.0) == ["kept"]


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError, match="max_size"):
        queue(max_size=0)
    with pytest.raises(ValueError, match="negative"):
        queue(max_wait=-1.0)
