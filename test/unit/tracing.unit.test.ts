import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { ConsoleSpanExporter } from '@opentelemetry/sdk-trace-base';
import { ConfigError } from '../../core/config';
import { activeTraceIds, traceparentOf, tracingEnabled } from '../../infra/tracing';
import { exporterFromEnv } from '../../infra/tracing-sdk';

describe('tracing configuration (OTEL_*)', () => {
  it('is off by default and with none or OTEL_SDK_DISABLED', () => {
    assert.equal(exporterFromEnv({}), null);
    assert.equal(exporterFromEnv({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }), null);
    assert.equal(exporterFromEnv({ OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'otlp' }), null);
  });

  it('exports OTLP when asked, or when only an endpoint is set', () => {
    assert.ok(exporterFromEnv({ OTEL_TRACES_EXPORTER: 'otlp' }) instanceof OTLPTraceExporter);
    assert.ok(exporterFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }) instanceof OTLPTraceExporter);
    assert.ok(exporterFromEnv({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }) instanceof OTLPTraceExporter);
  });

  it('exports to the console, or to both', () => {
    assert.ok(exporterFromEnv({ OTEL_TRACES_EXPORTER: 'console' }) instanceof ConsoleSpanExporter);
    const both = exporterFromEnv({ OTEL_TRACES_EXPORTER: 'otlp,console' });
    assert.ok(both && !(both instanceof OTLPTraceExporter) && !(both instanceof ConsoleSpanExporter));
  });

  it('refuses an exporter it does not ship, naming the variable', () => {
    assert.throws(() => exporterFromEnv({ OTEL_TRACES_EXPORTER: 'zipkin' }), (error: unknown) => error instanceof ConfigError && /OTEL_TRACES_EXPORTER/.test(error.message));
  });

  it('costs nothing while off: no traceparent, no trace ids on log lines', () => {
    assert.equal(tracingEnabled(), false);
    assert.equal(traceparentOf(), undefined);
    assert.deepEqual(activeTraceIds(), {});
  });
});
