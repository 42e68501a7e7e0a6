"""The bench's WebRTC caller measures what it says: a turn gap, a barge-in, per-turn reports
(against an in-process bridge on loopback, so the models are not loaded twice)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import RunningBridge

from bridge.bench.cli import run_bench_command, side_by_side
from bridge.bench.run import BenchResult
from bridge.bench.webrtc import phone_turn_detection, webrtc_call

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("aioice.ice.get_host_addresses", lambda **_: ["127.0.0.1"])


async def test_a_webrtc_call_reports_its_turn_gap_and_barge_in(
    bridge: RunningBridge, speak: Callable[[str, int], bytes]
) -> None:
    reports, underruns = await webrtc_call(
        bridge.url,
        ["What time do you open?"],
        lambda text: speak(text, 24_000),
        barge_in=True,
        media_only_s=0.0,
        turn_detection=phone_turn_detection({}),  # waits for session.updated: times out if refused
    )
    turn, barge = reports
    assert turn.latency_ms is not None
    assert 0 < turn.latency_ms < 5000
    assert turn.heard_pcm  # the reply, at 8 kHz like the phone caller's
    assert barge.clear_ms is not None
    assert 0 < barge.clear_ms < 2000
    assert underruns == 0


def test_side_by_side_has_a_column_per_transport() -> None:
    twilio = BenchResult(calls=1, turns=1, turn_gaps_ms=[700.0])
    webrtc = BenchResult(calls=1, turns=1, turn_gaps_ms=[650.0], transport="webrtc")
    lines = side_by_side([twilio, webrtc]).splitlines()
    assert lines[0].split() == ["transport", "twilio", "webrtc"]
    assert "700.000" in next(line for line in lines if line.startswith("turn_gap_p50_ms"))


def test_the_webrtc_calls_ask_for_the_phone_calls_turn_detection() -> None:
    assert phone_turn_detection({}) == {"type": "semantic_vad", "eagerness": "auto"}
    assert phone_turn_detection({"BRIDGE_TURN_EAGERNESS": "high"})["eagerness"] == "high"
    server = phone_turn_detection(
        {"BRIDGE_TURN_DETECTION": "server_vad", "BRIDGE_VAD_SILENCE_MS": "350"}
    )
    assert server == {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 350,
    }


def test_both_transports_run_together_on_one_bridge(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # --webrtc compares the transports under the same load: one bridge, a call of each.
    args = argparse.Namespace(
        calls=1, turns=1, url=None, no_barge_in=True, media_only=0.0, soak=0.0, media_calls=0,
        turn_taking=False, webrtc=True, json=str(tmp_path / "bench.json"), png=None,
    )  # fmt: skip
    assert run_bench_command(args) == 0
    columns = json.loads((tmp_path / "bench.json").read_text())
    twilio, webrtc = (column["summary"] for column in columns)
    assert (twilio["transport"], webrtc["transport"]) == ("twilio", "webrtc")
    for column in (twilio, webrtc):
        assert column["turns"] == 1
        assert column["unanswered_turns"] == 0
        assert column["turn_gap_p50_ms"] > 0
        assert column["cpu_s_per_turn"] is None  # the CPU served both columns' turns
    # One bridge served both: the same server figures, shared over both calls.
    assert twilio["server_cpu_s"] == webrtc["server_cpu_s"] > 0
    assert twilio["cpu_s_per_call"] == pytest.approx(twilio["server_cpu_s"] / 2)
    assert twilio["cold_start_s"] == webrtc["cold_start_s"]
    assert capsys.readouterr().out.splitlines()[0].split() == ["transport", "twilio", "webrtc"]
