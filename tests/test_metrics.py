"""``/metrics`` after one simulated Twilio call of two turns: the counters count it, and the
turn-gap histogram agrees with what the caller measured."""

from __future__ import annotations

import httpx
import pytest
from conftest import RunningBridge
from metrics_support import metric_value

from bridge.caller.caller import Listen, Say, SimulatedCaller
from bridge.caller.dial import dial_websocket
from bridge.caller.wires import twilio_wire
from bridge.pipeline.tts import PiperTTS

pytestmark = pytest.mark.slow


async def test_metrics_after_a_two_turn_call(bridge: RunningBridge, piper: PiperTTS) -> None:
    url = bridge.url.replace("http://", "ws://") + "/twilio/media"
    async with dial_websocket(url) as transport:
        caller = SimulatedCaller(twilio_wire(), transport, tts=piper, stt=None)
        steps = [Listen(), Say("What are your hours?"), Say("When are you open?")]
        reports = (await caller.run(steps))[1:]  # after the greeting: no barge-in
    await bridge.app.state.runtime.calls.wait_empty()
    async with httpx.AsyncClient(base_url=bridge.url) as client:
        response = await client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text

    def value(sample: str, **labels: str) -> float:
        found = metric_value(text, sample, **labels)
        assert found is not None, f"{sample} {labels} missing:\n{text}"
        return found

    assert value("bridge_calls_started_total", door="carrier") == 1
    assert value("bridge_calls_ended_total", door="carrier", outcome="completed") == 1
    assert value("bridge_live_calls", door="carrier") == 0
    assert value("bridge_capacity_calls") == bridge.settings.max_calls
    assert value("bridge_draining") == 0
    assert value("bridge_ready") == 1
    assert value("bridge_model_info", stt_model="tiny.en", llm_model="gpt-4o-mini") == 1
    assert value("bridge_model_info", stt_device="cpu", stt_batch="1", tts_device="cpu") == 1
    # Two turns: each timed once from the caller's speech to the reply's first audio.
    assert value("bridge_turn_gap_seconds_count") == 2
    latencies = [r.latency_ms for r in reports]
    assert all(latency is not None for latency in latencies), reports
    caller_mean_s = sum(latencies) / len(latencies) / 1000  # type: ignore[arg-type]
    bridge_mean_s = value("bridge_turn_gap_seconds_sum") / 2
    assert abs(bridge_mean_s - caller_mean_s) < 0.05, (bridge_mean_s, caller_mean_s)
    assert 0 < bridge_mean_s < 3
    assert value("bridge_stt_seconds_count") >= 2
    assert 0 < value("bridge_stt_seconds_sum") < 5
    assert value("bridge_transcription_queue_wait_seconds_count") >= 2
    assert value("bridge_llm_time_to_first_token_seconds_count") >= 2  # prefetches count too
    assert value("bridge_tts_time_to_first_audio_seconds_count") == 3  # greeting and 2 replies
    assert 0 < value("bridge_tts_time_to_first_audio_seconds_sum") < 3
    assert value("bridge_barge_ins_total") == 0
    assert value("bridge_late_frames_total") == 0
    assert value("bridge_event_loop_lag_seconds_count") >= 1
