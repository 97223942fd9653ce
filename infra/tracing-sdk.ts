/**
 * OpenTelemetry tracing, off unless the standard environment asks for it:
 * OTEL_TRACES_EXPORTER=otlp (OTLP over HTTP/protobuf to OTEL_EXPORTER_OTLP_ENDPOINT or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) or console; or, with OTEL_TRACES_EXPORTER unset, an OTLP
 * endpoint set. OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES and OTEL_TRACES_SAMPLER apply as
 * usual; OTEL_SDK_DISABLED=true turns it off. While it is off nothing is installed: spans are
 * the API's no-ops and Temporal gets no interceptors.
 */
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { Resource, envDetectorSync } from '@opentelemetry/resources';
import { BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ConfigError } from '../core/config';
import { markTracingInstalled, tracingEnabled } from './tracing';

/** The exporter the environment asks for, or null when tracing is off. */
export function exporterFromEnv(env: Record<string, string | undefined> = process.env): SpanExporter | null {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return null;
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const names = (env.OTEL_TRACES_EXPORTER || (endpoint ? 'otlp' : 'none')).split(',').map((name) => name.trim()).filter(Boolean);
  if (names.length === 0 || names.includes('none')) return null;
  const exporters = names.map((name) => {
    if (name === 'otlp') return new OTLPTraceExporter();
    if (name === 'console') return new ConsoleSpanExporter();
    throw new ConfigError(`OTEL_TRACES_EXPORTER=${JSON.stringify(env.OTEL_TRACES_EXPORTER)}: Ledgerflow supports otlp, console and none`);
  });
  return exporters.length === 1 ? exporters[0]! : fanOut(exporters);
}

/**
 * Installs tracing for this process (once) if the environment asks for it, or with `exporter`
 * (tests: an InMemorySpanExporter, exported span by span). Returns whether tracing is on.
 */
export function startTracing(serviceName: string, options: { exporter?: SpanExporter; env?: Record<string, string | undefined> } = {}): boolean {
  if (tracingEnabled()) return true;
  const env = options.env ?? process.env;
  const exporter = options.exporter ?? exporterFromEnv(env);
  if (!exporter) return false;
  const resource = new Resource({ 'service.name': env.OTEL_SERVICE_NAME || serviceName }).merge(envDetectorSync.detect());
  const processor = options.exporter ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(exporter);
  const provider = new NodeTracerProvider({ resource, spanProcessors: [processor] });
  // Context through async calls (AsyncLocalStorage) and W3C traceparent as the propagator.
  provider.register();
  markTracingInstalled({ processor, resource, shutdown: () => provider.shutdown() });
  return true;
}

function fanOut(exporters: SpanExporter[]): SpanExporter {
  return {
    export(spans, done) {
      let pending = exporters.length;
      let failed: { code: number; error?: Error } | undefined;
      for (const exporter of exporters) {
        exporter.export(spans, (result) => {
          if (result.code !== 0) failed = result;
          if (--pending === 0) done(failed ?? result);
        });
      }
    },
    shutdown: async () => void (await Promise.all(exporters.map((e) => e.shutdown()))),
    forceFlush: async () => void (await Promise.all(exporters.map((e) => e.forceFlush?.()))),
  };
}
