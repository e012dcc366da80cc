"""OpenTelemetry tracing, exporter chosen by settings (none, console or OTLP over HTTP)."""

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

from shared.settings import Settings


def exporter_for(settings: Settings) -> SpanExporter | None:
    if settings.otel_exporter == "console":
        return ConsoleSpanExporter()
    if settings.otel_exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=settings.otel_endpoint) if settings.otel_endpoint else OTLPSpanExporter()
    return None


def setup_tracing(service_name: str, settings: Settings) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": f"schedcu-{service_name}"}))
    exporter = exporter_for(settings)
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return provider
