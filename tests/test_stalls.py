"""Event-loop stall reports: the detector on an injected clock, the watch on a real loop."""

import asyncio
import threading
import time

import httpx
import structlog

from bridge.app import create_app
from bridge.config import Settings
from bridge.stalls import CpuTimes, Stall, StallDetector, StallWatch, cpu_times, thread_stack
from bridge.testing.fakes import fake_engines
from bridge.testing.serve import serve_app


def test_a_heartbeat_older_than_the_threshold_is_one_stall_reported_when_it_ends() -> None:
    detector = StallDetector(threshold_s=0.05)
    assert detector.check(1.0) == (None, None)  # no heartbeat yet: nothing to judge
    detector.beat(1.0)
    assert detector.check(1.04) == (None, None)
    begun, ended = detector.check(1.06)
    assert begun is not None
    assert ended is None
    assert begun.started_at == 1.0
    assert detector.check(1.2) == (None, None)  # the same stall, not a second one
    detector.beat(1.25)
    begun, ended = detector.check(1.26)
    assert begun is None
    assert ended is not None
    assert round(ended.duration_s, 3) == 0.25
    assert detector.current is None
    assert detector.check(1.27) == (None, None)


def test_a_stall_says_where_the_loop_thread_spent_the_time() -> None:
    stall = Stall(started_at=10.0, stack=["a.py:1 outer", "b.py:2 inner"], ended_at=10.2)
    stall.cpu, stall.window_s = CpuTimes(running_s=0.03, runnable_s=0.05), 0.25
    assert stall.fields() == {
        "stalled_ms": 200,
        "window_ms": 250,
        "running_ms": 30,
        "waiting_for_cpu_ms": 50,
        "off_cpu_ms": 170,
        "stack": "b.py:2 inner <- a.py:1 outer",
    }


def test_cpu_times_and_stack_of_a_live_thread() -> None:
    spent = cpu_times(threading.get_native_id())
    assert spent is not None
    assert spent.running_s > 0
    assert cpu_times(-1) is None
    *_, caller, innermost = thread_stack(threading.get_ident())
    assert caller.startswith("test_stalls.py:")
    assert innermost.endswith(" thread_stack")
    assert thread_stack(-1) == []


def _block_the_loop(seconds: float) -> None:
    time.sleep(seconds)  # the stall under test: a blocking call on the event loop


async def test_the_watch_reports_a_blocked_loop_with_its_stack() -> None:
    loop = asyncio.get_running_loop()
    reported = asyncio.Event()
    stalls: list[Stall] = []

    def report(stall: Stall) -> None:
        stalls.append(stall)
        loop.call_soon_threadsafe(reported.set)

    watch = asyncio.create_task(StallWatch(0.05, report).run())
    await asyncio.sleep(0)  # the watch beats once and starts its thread
    _block_the_loop(0.3)
    async with asyncio.timeout(5):
        await reported.wait()
    watch.cancel()
    await asyncio.gather(watch, return_exceptions=True)
    assert not any(t.name == "stall-watch" for t in threading.enumerate())
    (stall,) = stalls
    assert 0.25 <= stall.duration_s < 1.0
    fields = stall.fields()
    assert "_block_the_loop" in str(fields["stack"])
    assert isinstance(fields["off_cpu_ms"], int)
    assert fields["off_cpu_ms"] >= 200


async def test_the_bridge_logs_stalls_when_the_setting_is_on() -> None:
    loop = asyncio.get_running_loop()
    logged = asyncio.Event()

    def notice(_logger: object, _method: str, entry: dict[str, object]) -> dict[str, object]:
        # Logged on the watch's thread; start-up may log a stall of its own (an import).
        if entry["event"] == "event_loop_stalled" and "_block_the_loop" in str(entry["stack"]):
            loop.call_soon_threadsafe(logged.set)
        return entry

    app = create_app(Settings(default_dialplan="agent", loop_stall_ms=50), fake_engines())
    with structlog.testing.capture_logs(processors=[notice]) as logs:
        async with serve_app(app) as url, httpx.AsyncClient(base_url=url) as client:
            await client.get("/healthz")  # the lifespan has started the watch
            _block_the_loop(0.2)
            async with asyncio.timeout(5):
                await logged.wait()
    stalls = [e for e in logs if e["event"] == "event_loop_stalled"]
    (entry,) = [e for e in stalls if "_block_the_loop" in e["stack"]]
    assert entry["stalled_ms"] >= 150
    assert not any(t.name == "stall-watch" for t in threading.enumerate())
