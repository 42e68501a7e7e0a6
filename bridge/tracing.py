"""OpenTelemetry traces of calls (the optional ``tracing`` extra), as an observer.

With ``BRIDGE_OTLP_ENDPOINT`` set, :func:`tracing_from` makes a :class:`Tracing` observer that
records the spans the doors and the engine mark through :mod:`bridge.observe` (a trace per
call, a span per turn, STT / LLM / TTS spans under it) and exports them in batches over
OTLP/HTTP. The exporter honours the standard ``OTEL_EXPORTER_OTLP_*`` variables (headers,
timeout, compression); ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES`` name the service
(``voice-bridge`` by default). OpenTelemetry is imported here only, and only when tracing is on.
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Any

from bridge.observe import Attribute, Count, Span, Timing

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

INSTALL_HINT = "pip install 'voice-bridge[tracing]'"


class TracingUnavailable(RuntimeError):
    """BRIDGE_OTLP_ENDPOINT is set but the OpenTelemetry packages are not installed."""


class _OtelSpan:
    def __init__(self, span: Any) -> None:
        self.span = span

    def set(self, **attributes: Attribute) -> None:
        self.span.set_attributes(attributes)

    def end(self, error: BaseException | None = None) -> None:
        if isinstance(error, asyncio.CancelledError):
            self.span.set_attribute("bridge.cancelled", True)  # barge-in, hang-up: not a fault
        elif error is not None:
            from opentelemetry.trace import Status, StatusCode

            self.span.record_exception(error)
            self.span.set_status(Status(StatusCode.ERROR, str(error)))
        self.span.end()


class Tracing:
    """An :class:`~bridge.observe.Observer` that traces (timings and counts are for metrics)."""

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        self._tracer = provider.get_tracer("bridge")

    def timing(self, name: Timing, seconds: float) -> None:
        pass

    def count(self, name: Count, amount: int = 1) -> None:
        pass

    def start_span(self, name: str, parent: Span | None, attributes: dict[str, Attribute]) -> Span:
        from opentelemetry import trace

        context = trace.set_span_in_context(parent.span) if isinstance(parent, _OtelSpan) else None
        return _OtelSpan(self._tracer.start_span(name, context=context, attributes=attributes))

    def close(self) -> None:
        """Export what is left and stop."""
        self.provider.shutdown()


def tracing_from(endpoint: str) -> Tracing | None:
    """The tracing observer for ``BRIDGE_OTLP_ENDPOINT`` (None when it is empty).
    Raises :class:`TracingUnavailable` when the packages are missing."""
    if not endpoint.strip():
        return None
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise TracingUnavailable(
            f"BRIDGE_OTLP_ENDPOINT is set but OpenTelemetry is not installed ({exc.name}): "
            f"{INSTALL_HINT}"
        ) from exc
    url = endpoint.strip().rstrip("/")
    if not url.endswith("/v1/traces"):
        url += "/v1/traces"
    named = os.environ.get("OTEL_SERVICE_NAME") or "service.name=" in os.environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    )
    resource = Resource.create({} if named else {"service.name": "voice-bridge"})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=url)))
    return Tracing(provider)
