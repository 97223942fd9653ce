/**
 * Temporal's OpenTelemetry workflow interceptors, bundled into the traced workflow bundle only
 * (`ledgerflow build`, cli/build.ts), with two changes that keep every recorded history replaying:
 *
 * - Activities are scheduled synchronously. Temporal's interceptor schedules them a few
 *   microtasks late, and an aggregate publishes from one loop while another may hand over: the
 *   replay test caught 2026-11-22 continue-as-new runs (ActivityTaskScheduled, then
 *   ContinueAsNew, in one task) failing with TMPRL1100 under it.
 * - A run recorded by an SDK older than the interceptors' flag (OpenTelemetryInterceporsAvoidsExtraYields)
 *   is not traced at all: with that flag unset they add yields of their own.
 *
 * Workflow code: no Node APIs.
 */
import { SpanStatusCode, context, trace } from '@opentelemetry/api';
import { headersWithContext } from '@temporalio/interceptors-opentelemetry/lib/instrumentation';
import { OpenTelemetryInboundInterceptor, OpenTelemetryInternalsInterceptor, OpenTelemetryOutboundInterceptor } from '@temporalio/interceptors-opentelemetry/lib/workflow';
import type { Headers } from '@temporalio/common';
import type { WorkflowInboundCallsInterceptor, WorkflowInterceptorsFactory, WorkflowOutboundCallsInterceptor } from '@temporalio/workflow';
import { SdkFlags } from '@temporalio/workflow/lib/flags';
import { getActivator } from '@temporalio/workflow/lib/global-attributes';

/** True in every run recorded by SDK 1.13.2 or later (and always in a new one). */
const traced = () => getActivator().hasFlag(SdkFlags.OpenTelemetryInterceporsAvoidsExtraYields);

/** A `StartActivity:<type>` span around scheduling, its context in the headers; the command goes out at once. */
function scheduled<T>(activityType: string, headers: Headers, schedule: (headers: Headers) => Promise<T>): Promise<T> {
  // The tracer of the provider Temporal's interceptors registered in this workflow context.
  const span = trace.getTracer('@temporalio/interceptor-workflow').startSpan(`StartActivity:${activityType}`);
  let result: Promise<T>;
  try {
    result = schedule(context.with(trace.setSpan(context.active(), span), () => headersWithContext(headers)));
  } catch (error) {
    span.end();
    throw error;
  }
  result.then(
    () => (span.setStatus({ code: SpanStatusCode.OK }), span.end()),
    (error: unknown) => (span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) }), span.end()),
  );
  return result;
}

export const interceptors: WorkflowInterceptorsFactory = () => {
  const otelIn = new OpenTelemetryInboundInterceptor();
  const otelOut = new OpenTelemetryOutboundInterceptor();
  const inbound: WorkflowInboundCallsInterceptor = {
    execute: (input, next) => (traced() ? otelIn.execute(input, next) : next(input)),
    handleSignal: (input, next) => (traced() ? otelIn.handleSignal(input, next) : next(input)),
    handleUpdate: (input, next) => (traced() ? otelIn.handleUpdate(input, next) : next(input)),
    validateUpdate: (input, next) => (traced() ? otelIn.validateUpdate(input, next) : next(input)),
  };
  const outbound: WorkflowOutboundCallsInterceptor = {
    scheduleActivity: (input, next) => (traced() ? scheduled(input.activityType, input.headers, (headers) => next({ ...input, headers })) : next(input)),
    scheduleLocalActivity: (input, next) => (traced() ? scheduled(input.activityType, input.headers, (headers) => next({ ...input, headers })) : next(input)),
    startChildWorkflowExecution: (input, next) => (traced() ? otelOut.startChildWorkflowExecution(input, next) : next(input)),
    continueAsNew: (input, next) => (traced() ? otelOut.continueAsNew(input, next) : next(input)),
    signalWorkflow: (input, next) => (traced() ? otelOut.signalWorkflow(input, next) : next(input)),
    getLogAttributes: (input, next) => otelOut.getLogAttributes(input, next),
  };
  return { inbound: [inbound], outbound: [outbound], internals: [new OpenTelemetryInternalsInterceptor()] };
};
