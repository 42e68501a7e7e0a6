"""Tracing: a call on fake engines, in virtual time, traced into OpenTelemetry's in-memory
exporter (opentelemetry-sdk is a dev dependency); and no tracing objects where nothing traces."""

from __future__ import annotations

import builtins
import contextvars
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from call_harness import phone_call, settings, virtual
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from bridge import observe, tracing
from bridge.engine import events as ev
from bridge.pipeline.llm import Completed, TextDelta, Usage
from bridge.testing.fakes import Fakes

REPLY = "We are open from nine to five. On Saturdays we open at ten."


class Timings:
    """An observer that does not trace (as bridge.metrics): it records what it is told."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def timing(self, name: observe.Timing, seconds: float) -> None:
        self.names.append(name)

    def count(self, name: observe.Count, amount: int = 1) -> None:
        self.names.append(name)


@pytest.fixture
def traced() -> Iterator[tuple[tracing.Tracing, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield tracing.Tracing(provider), exporter
    provider.shutdown()


def one(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    (span,) = [s for s in spans if s.name == name]
    return span


def children(spans: list[ReadableSpan], parent: ReadableSpan, name: str) -> list[ReadableSpan]:
    assert parent.context is not None
    return [
        s
        for s in spans
        if s.name == name and s.parent is not None and s.parent.span_id == parent.context.span_id
    ]


@pytest.mark.parametrize("prefetch", [False, True])
@virtual
async def test_a_call_is_one_trace_a_turn_span_with_stt_llm_and_tts_children(
    traced: tuple[tracing.Tracing, InMemorySpanExporter], prefetch: bool
) -> None:
    tracer, exporter = traced
    fakes = Fakes()
    fakes.stt.transcripts.append("When are you open?")
    fakes.llm.replies.append(
        [TextDelta(REPLY), Completed("stop", REPLY, usage=Usage(input_tokens=42, output_tokens=7))]
    )
    # What the carrier door's run_call does: observe the call and trace it as one span.
    timings = Timings()
    with (
        observe.observing(observe.fan_out(timings, tracer)),
        observe.span("call", **{"bridge.door": "carrier"}),
    ):
        async with phone_call(fakes, settings(prefetch_reply=prefetch)) as line:
            await line.phone.speak(400, silence_ms=700)
            done = await line.wait_for(ev.ResponseDone)
            await line.played()
    assert done.response.status == "completed"
    assert {"stt", "turn_gap", "llm_first_token", "tts_first_audio"} <= set(timings.names)

    spans = list(exporter.get_finished_spans())
    call = one(spans, "call")
    assert call.parent is None
    assert call.attributes is not None
    assert call.attributes["bridge.door"] == "carrier"
    assert {s.context.trace_id for s in spans if s.context} == {call.context.trace_id}  # type: ignore[union-attr]

    (turn,) = children(spans, call, "turn")
    assert turn.attributes is not None
    assert turn.attributes["bridge.heard_chars"] == len("When are you open?")
    assert turn.attributes["bridge.said_chars"] == len(REPLY)
    assert turn.attributes["bridge.response_status"] == "completed"
    assert "heard" not in turn.attributes  # lengths, never the words
    assert "said" not in turn.attributes

    (stt,) = children(spans, turn, "stt")
    assert stt.attributes is not None
    assert stt.attributes["bridge.transcript_chars"] == len("When are you open?")

    # A reply asked for in the end-of-turn silence (prefetched) is asked before the turn
    # ends: its llm span is the call's, and the turn says it adopted it.
    (llm,) = children(spans, call if prefetch else turn, "llm")
    assert turn.attributes.get("bridge.prefetched", False) is prefetch
    attributes = dict(llm.attributes or {})
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.request.model"]
    assert attributes["gen_ai.usage.input_tokens"] == 42
    assert attributes["gen_ai.usage.output_tokens"] == 7
    assert tuple(attributes["gen_ai.response.finish_reasons"]) == ("stop",)  # type: ignore[arg-type]

    tts = children(spans, turn, "tts")
    assert len(tts) == 2  # one span per clause
    assert tts[0].attributes is not None
    assert tts[0].attributes["bridge.first"] is True
    # The turn runs from the end of the caller's speech to response.done: its children lie
    # within it, and so does it within the call.
    for child in [stt, *tts] if prefetch else [stt, llm, *tts]:
        assert turn.start_time <= child.start_time <= child.end_time <= turn.end_time  # type: ignore[operator]
    assert call.start_time <= turn.start_time <= turn.end_time <= call.end_time  # type: ignore[operator]


def test_without_a_tracer_span_hooks_are_no_ops_and_create_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    created: list[str] = []
    monkeypatch.setattr(tracing._OtelSpan, "__init__", lambda *a: created.append("span"))

    def check() -> None:
        for observer in (None, Timings()):
            with observe.observing(observer), observe.span("call", door="x") as span:
                assert span is observe.NO_SPAN
                observe.annotate(ok=True)
                assert observe.start_span("llm") is observe.NO_SPAN
                with observe.within(observe.start_span("turn")):
                    pass

    contextvars.copy_context().run(check)
    assert created == []
    timings = Timings()
    assert observe.fan_out(None, timings, None) is timings  # one observer: itself
    assert observe.fan_out(None) is None


def test_tracing_is_off_without_an_endpoint_and_named_when_the_packages_are_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert tracing.tracing_from("") is None
    real_import = builtins.__import__

    def no_otel(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("opentelemetry"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_otel)
    with pytest.raises(tracing.TracingUnavailable, match=r"pip install 'voice-bridge\[tracing\]'"):
        tracing.tracing_from("http://collector:4318")


def test_the_endpoint_gets_the_traces_path_and_the_service_a_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    tracer = tracing.tracing_from("http://collector:4318/")
    assert tracer is not None
    try:
        resource = tracer.provider.resource
        assert resource.attributes["service.name"] == "voice-bridge"
        processor = tracer.provider._active_span_processor._span_processors[0]
        exporter = processor._batch_processor._exporter  # type: ignore[attr-defined]
        assert exporter._endpoint == "http://collector:4318/v1/traces"
    finally:
        tracer.close()
    assert "opentelemetry.sdk" in sys.modules
