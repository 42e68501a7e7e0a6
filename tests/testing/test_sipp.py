"""The sipp runner against sipp's own built-in UAS (CI installs sipp: no skip)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bridge.testing import sipp
from bridge.testing.sipp import free_udp_port, run_sipp

SCENARIOS = Path(__file__).parent.parent / "sip" / "scenarios"


@pytest.fixture
async def uas() -> AsyncIterator[str]:
    """sipp's built-in UAS on a loopback port, as "127.0.0.1:PORT". -aa makes it answer
    OPTIONS with 200. Its 4 s time-wait after a call is not waited for: it is cancelled,
    which must kill it."""
    port = free_udp_port()
    ready = asyncio.Event()
    server = asyncio.create_task(
        run_sipp("uas", None, sip_port=port, ready=ready, extra=["-aa"], timeout_s=30)
    )
    await asyncio.wait_for(ready.wait(), 10)
    yield f"127.0.0.1:{port}"
    server.cancel()
    with pytest.raises(asyncio.CancelledError):
        await server


async def test_call_then_hangup(uas: str) -> None:
    rtp_port = free_udp_port()
    result = await run_sipp(
        SCENARIOS / "call_then_hangup.xml",
        uas,
        variables={"rtp_port": str(rtp_port), "talk_ms": "300"},
        timeout_s=10,
    )
    assert result.returncode == 0, result.explain()
    assert f"m=audio {rtp_port} RTP/AVP 0 8 101" in result.messages
    assert "CSeq: 2 BYE" in result.messages


async def test_options(uas: str) -> None:
    result = await run_sipp(SCENARIOS / "options.xml", uas, timeout_s=10)
    assert result.returncode == 0, result.explain()


async def test_unreachable_target_is_explained() -> None:
    result = await run_sipp(SCENARIOS / "options.xml", f"127.0.0.1:{free_udp_port()}", timeout_s=1)
    assert result.returncode == 255
    explanation = result.explain()
    assert "global -timeout was reached" in explanation
    # sipp's own clock: "after '1.000' seconds", sometimes '0.996'.
    assert re.search(r"options timed out after '[01]\.\d+' seconds", explanation)
    assert "OPTIONS ---------->" in explanation  # the scenario screen


async def test_variables_must_match_the_scenario() -> None:
    with pytest.raises(ValueError, match="talk_ms"):
        await run_sipp(
            SCENARIOS / "call_then_hangup.xml", "127.0.0.1:5060", variables={"rtp_port": "4000"}
        )
    with pytest.raises(ValueError, match="codec"):
        await run_sipp(SCENARIOS / "options.xml", "127.0.0.1:5060", variables={"codec": "8"})


async def test_overrun_is_killed(monkeypatch: pytest.MonkeyPatch) -> None:
    # -sleep holds sipp before it arms its own -timeout, so only the kill can stop it.
    monkeypatch.setattr(sipp, "KILL_GRACE_S", 0.5)
    result = await run_sipp(
        SCENARIOS / "options.xml",
        f"127.0.0.1:{free_udp_port()}",
        timeout_s=1,
        extra=["-sleep", "30"],
    )
    assert result.returncode == -9
    assert "killed by signal 9" in result.explain()
