/**
 * Tracing as the rest of the code sees it: the active context, traceparents, spans through the
 * OpenTelemetry API. Off (nothing installed) unless a process called `startTracing`
 * (infra/tracing-sdk.ts); then every function here is a cheap no-op or returns nothing.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, propagation, trace, type Context, type Tracer } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';

export interface InstalledTracing {
  processor: SpanProcessor;
  resource: Resource;
  shutdown(): Promise<void>;
}

let installed: InstalledTracing | undefined;

/** Called once by `startTracing`. */
export function markTracingInstalled(tracing: InstalledTracing): void {
  installed = tracing;
}

export const tracingEnabled = (): boolean => installed !== undefined;

/** The installed span processor and resource, for the spans workflows export through a sink. */
export function installedTracing(): InstalledTracing | undefined {
  return installed;
}

/** Exports what is buffered and stops (at process end). */
export async function stopTracing(): Promise<void> {
  await installed?.shutdown();
}

export const tracer = (): Tracer => trace.getTracer('ledgerflow');

/** The W3C traceparent of `ctx` (the active context by default), if a span is recording there. */
export function traceparentOf(ctx: Context = context.active()): string | undefined {
  if (!installed) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier.traceparent;
}

/** The context a W3C traceparent names (for a child span or a link). */
export function contextOf(traceparent: string): Context {
  return propagation.extract(ROOT_CONTEXT, { traceparent });
}

/** `trace_id` and `span_id` of the active span, for log lines (empty while tracing is off). */
export function activeTraceIds(): Record<string, string> {
  if (!installed) return {};
  const span = trace.getActiveSpan()?.spanContext();
  return span && trace.isSpanContextValid(span) ? { trace_id: span.traceId, span_id: span.spanId } : {};
}

/**
 * Runs the rest of an HTTP request's handling (`next`, called at once) in a server span
 * `trpc <procedure>`, continuing the caller's trace when the request carries a traceparent; the
 * span ends when the response is sent. Everything `next` starts, synchronously or not, is in it.
 */
export function traceRequest(req: IncomingMessage, res: ServerResponse, procedure: string, next: () => void): void {
  if (!installed) return next();
  const parent = propagation.extract(ROOT_CONTEXT, req.headers);
  const span = tracer().startSpan(
    `trpc ${procedure}`,
    { kind: SpanKind.SERVER, attributes: { 'rpc.system': 'trpc', 'rpc.method': procedure, 'http.request.method': req.method ?? 'GET', 'url.path': (req.url ?? '/').split('?')[0]! } },
    parent,
  );
  res.once('close', () => {
    span.setAttribute('http.response.status_code', res.statusCode);
    if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  });
  context.with(trace.setSpan(parent, span), next);
}
