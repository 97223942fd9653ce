/**
 * Temporal's OpenTelemetry interceptors, installed only while tracing is on (infra/tracing.ts):
 * clients wrap starts and updates in spans and pass the context in Temporal headers; the worker
 * continues it in workflow spans (exported through a sink, never on replay) and activity spans.
 */
import type { WorkflowClientInterceptor } from '@temporalio/client';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry/lib/client';
import { OpenTelemetryActivityInboundInterceptor, OpenTelemetryActivityOutboundInterceptor, makeWorkflowExporter } from '@temporalio/interceptors-opentelemetry/lib/worker';
import type { ActivityInterceptorsFactory, InjectedSinks } from '@temporalio/worker';
import { installedTracing } from './tracing';

/** The workflow interceptors module: bundled into the traced workflow bundle only. */
export const workflowTracingModule = require.resolve('../workflows/tracing-interceptors');

export function tracingClientInterceptors(): WorkflowClientInterceptor[] {
  return installedTracing() ? [new OpenTelemetryWorkflowClientInterceptor()] : [];
}

export interface WorkerTracing {
  activity: ActivityInterceptorsFactory[];
  sinks: InjectedSinks<Record<string, never>>;
}

/** What a worker adds while tracing is on; undefined while it is off. */
export function workerTracing(): WorkerTracing | undefined {
  const tracing = installedTracing();
  if (!tracing) return undefined;
  return {
    activity: [(ctx) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx), outbound: new OpenTelemetryActivityOutboundInterceptor(ctx) })],
    sinks: workflowSpanSinks(tracing.processor, tracing.resource),
  };
}

/** The sink the workflow interceptors export their spans through (never called on replay). */
export function workflowSpanSinks(...exporter: Parameters<typeof makeWorkflowExporter>): InjectedSinks<Record<string, never>> {
  return { exporter: makeWorkflowExporter(...exporter) } as unknown as InjectedSinks<Record<string, never>>;
}
