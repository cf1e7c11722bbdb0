"""OpenTelemetry: one tracer provider per process; context in Kafka headers and gRPC metadata.

Export is configured by the standard ``OTEL_*`` variables: with ``OTEL_TRACES_EXPORTER=console``
spans are printed. Sampling follows ``OTEL_TRACES_SAMPLER``/``OTEL_TRACES_SAMPLER_ARG``; when
unset, 1% of new traces are recorded and children follow their parent's decision (a recorded
span costs tens of microseconds, which the per-position hot path cannot pay every time). Trace
context is propagated either way, so trace ids reach logs and downstream events.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import grpc
from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

DEFAULT_SAMPLE_RATIO = 0.01

_configured = False
#: share of new (root) traces a hot path starts; see :func:`trace_this`
_root_ratio = DEFAULT_SAMPLE_RATIO


def configure_tracing(service: str) -> None:
    global _configured, _root_ratio
    if _configured:
        return
    if os.environ.get("OTEL_TRACES_SAMPLER_ARG"):
        _root_ratio = float(os.environ["OTEL_TRACES_SAMPLER_ARG"])
    resource = Resource.create({"service.name": service})
    if os.environ.get("OTEL_TRACES_SAMPLER"):
        provider = TracerProvider(resource=resource)  # the SDK reads the sampler from the env
    else:
        provider = TracerProvider(
            resource=resource, sampler=ParentBased(TraceIdRatioBased(DEFAULT_SAMPLE_RATIO))
        )
    if os.environ.get("OTEL_TRACES_EXPORTER") == "console":
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    trace.set_tracer_provider(provider)
    _configured = True


def trace_this() -> bool:
    """Whether a hot path should open a span: always inside an existing trace (a consumer's
    handler), otherwise for the sampled share of new traces. The check is a coin flip, far
    cheaper than an SDK span that the sampler then drops."""
    if trace.get_current_span().get_span_context().is_valid:
        return True
    return random.random() < _root_ratio


def current_traceparent() -> tuple[str | None, str | None]:
    """The W3C ``traceparent`` and ``tracestate`` of the current span, if there is one."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent"), carrier.get("tracestate")


def current_trace_ids() -> dict[str, str]:
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return {}
    return {"trace_id": f"{ctx.trace_id:032x}", "span_id": f"{ctx.span_id:016x}"}


def extract_context(headers: Iterable[tuple[str, bytes | str]] | None) -> context.Context:
    """The trace context carried by Kafka headers or gRPC metadata."""
    carrier = {
        k.lower(): (v.decode("latin-1") if isinstance(v, bytes) else v) for k, v in headers or ()
    }
    return propagate.extract(carrier)


# ----------------------------------------------------------------------------------- gRPC


class _ClientCallDetails(grpc.ClientCallDetails):  # type: ignore[misc]
    def __init__(self, base: Any, metadata: Sequence[tuple[str, str]]) -> None:
        self.method = base.method
        self.timeout = base.timeout
        self.metadata = metadata
        self.credentials = base.credentials
        self.wait_for_ready = base.wait_for_ready
        self.compression = base.compression


class TracingClientInterceptor(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):  # type: ignore[misc]
    """Adds the current trace context to outgoing gRPC metadata."""

    def _with_context(self, details: Any) -> Any:
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        metadata = list(details.metadata or ()) + list(carrier.items())
        return _ClientCallDetails(details, metadata)

    def intercept_unary_unary(
        self, continuation: Callable[..., Any], details: Any, request: Any
    ) -> Any:
        return continuation(self._with_context(details), request)

    def intercept_unary_stream(
        self, continuation: Callable[..., Any], details: Any, request: Any
    ) -> Any:
        return continuation(self._with_context(details), request)


class TracingServerInterceptor(grpc.ServerInterceptor):  # type: ignore[misc]
    """Runs each gRPC handler inside a span that continues the caller's trace."""

    def __init__(self, service: str) -> None:
        self._tracer = trace.get_tracer(service)

    def intercept_service(self, continuation: Callable[..., Any], details: Any) -> Any:
        handler = continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler
        parent = extract_context(details.invocation_metadata)
        inner = handler.unary_unary
        tracer = self._tracer

        def traced(request: Any, servicer_context: Any) -> Any:
            token = context.attach(parent)
            try:
                with tracer.start_as_current_span(details.method, kind=trace.SpanKind.SERVER):
                    return inner(request, servicer_context)
            finally:
                context.detach(token)

        return grpc.unary_unary_rpc_method_handler(
            traced,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
