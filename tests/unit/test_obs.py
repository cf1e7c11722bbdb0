from __future__ import annotations

import json
import logging
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from opentelemetry import trace

from trackstream_obs.logging import JsonFormatter, redact
from trackstream_obs.tracing import (
    TracingClientInterceptor,
    TracingServerInterceptor,
    configure_tracing,
    current_trace_ids,
)


def test_redaction_masks_identifiers_but_keeps_pseudonymous_ids() -> None:
    text = (
        "login imei 359339077003915 phone +86 138 0013 8000 mail a.b@example.com "
        "at 41.008200, 28.978400 device dev-7f3a serial 17"
    )
    out = redact(text)
    assert "359339077003915" not in out and "138 0013" not in out
    assert "a.b@example.com" not in out and "41.008200" not in out
    assert "dev-7f3a" in out and "serial 17" in out


def test_json_log_lines_carry_service_extras_and_no_personal_data() -> None:
    record = logging.LogRecord(
        "ingest.tcp", logging.WARNING, __file__, 1, "bad frame from %s", ("359339077003915",), None
    )
    record.device_id = "dev-1"
    record.detail = "owner@example.com"
    line = json.loads(JsonFormatter("ingest").format(record))
    assert line["service"] == "ingest" and line["level"] == "warning"
    assert line["message"] == "bad frame from <digits>"
    assert line["device_id"] == "dev-1" and line["detail"] == "<email>"


def test_trace_context_crosses_grpc_metadata() -> None:
    configure_tracing("tests")
    seen: dict[str, str] = {}

    class Recording(health.HealthServicer):  # type: ignore[misc]
        def Check(self, request, context):
            seen.update(current_trace_ids())
            return super().Check(request, context)

    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=2),
        interceptors=[TracingServerInterceptor("tests")],
    )
    servicer = Recording()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        channel = grpc.intercept_channel(
            grpc.insecure_channel(f"127.0.0.1:{port}"), TracingClientInterceptor()
        )
        with trace.get_tracer("tests").start_as_current_span("caller") as span:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
            caller_trace = f"{span.get_span_context().trace_id:032x}"
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        assert seen["trace_id"] == caller_trace
    finally:
        server.stop(None)
