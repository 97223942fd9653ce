import { SpanKind, SpanStatusCode, context, propagation, trace, type Span } from '@opentelemetry/api';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Publisher } from 'rabbitmq-client';
import type { EventEnvelope } from '../core/envelopes';
import { routingKeyOf } from '../core/ids';
import type { WorkerMetrics } from '../infra/metrics';
import { contextOf, tracer, tracingEnabled } from '../infra/tracing';

export interface PublishDeps {
  publisher: Publisher;
  exchange: string;
  /**
   * Whether the broker connection is up. While it is not, a publish fails at once (Temporal
   * retries it) instead of holding an activity slot until its timeout, which would keep the
   * aggregates' decide activities waiting behind it for the whole outage.
   */
  connected?: () => boolean;
  metrics?: WorkerMetrics;
}

/** The activity's logger (its lines name the workflow and activity), or none outside an activity. */
function activityLog() {
  try {
    return Context.current().log;
  } catch {
    return undefined;
  }
}

const correlationIds = (events: readonly EventEnvelope[]) => [...new Set(events.map((e) => e.correlationId))];

/**
 * The message's trace headers. Traced, each event gets a producer span in its command's trace
 * (linked to this activity's span) whose context travels in `traceparent`; untraced here, the
 * command's own context travels on unchanged, so a traced projector still joins its trace.
 */
function traceHeaders(event: EventEnvelope, exchange: string, routingKey: string): { headers: Record<string, string>; span?: Span } {
  if (!tracingEnabled()) return { headers: event.traceparent ? { traceparent: event.traceparent } : {} };
  const activity = trace.getActiveSpan();
  const parent = event.traceparent ? contextOf(event.traceparent) : context.active();
  const span = tracer().startSpan(
    `publish ${routingKey}`,
    {
      kind: SpanKind.PRODUCER,
      links: activity && event.traceparent ? [{ context: activity.spanContext() }] : [],
      attributes: {
        'messaging.system': 'rabbitmq',
        'messaging.operation.type': 'send',
        'messaging.destination.name': exchange,
        'messaging.rabbitmq.destination.routing_key': routingKey,
        'messaging.message.id': event.eventId,
        'ledgerflow.correlation_id': event.correlationId,
        'ledgerflow.command_id': event.commandId,
      },
    },
    parent,
  );
  const headers: Record<string, string> = {};
  propagation.inject(trace.setSpan(parent, span), headers);
  return { headers, span };
}

/** An event's message properties: persistent, its id, correlation, type and version visible in the RabbitMQ console. */
export function messageOf(event: EventEnvelope, exchange: string, routingKey = routingKeyOf(event.aggregateType, event.type), headers: Record<string, string> = {}) {
  return {
    exchange,
    routingKey,
    messageId: event.eventId,
    correlationId: event.correlationId,
    contentType: 'application/json',
    durable: true,
    timestamp: Math.floor(Date.parse(event.occurredAt) / 1000),
    type: event.type,
    headers: { 'aggregate-version': event.version, ...headers },
  };
}

export function createPublishActivities({ publisher, exchange, connected, metrics }: PublishDeps) {
  return {
    /**
     * Publishes a batch of events in version order and resolves once the broker confirmed every
     * one. Any failure rejects the whole batch; Temporal retries it and consumers dedupe.
     */
    async publishEvents(events: EventEnvelope[]): Promise<void> {
      const started = performance.now();
      const log = activityLog();
      try {
        if (connected && !connected()) throw ApplicationFailure.retryable('RabbitMQ is not connected: the publish is retried', 'BROKER_UNAVAILABLE');
        await Promise.all(
          events.map(async (event) => {
            const routingKey = routingKeyOf(event.aggregateType, event.type);
            const { headers, span } = traceHeaders(event, exchange, routingKey);
            try {
              await publisher.send(messageOf(event, exchange, routingKey, headers), event);
            } catch (err) {
              span?.recordException(err as Error);
              span?.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
              throw err;
            } finally {
              span?.end();
            }
          }),
        );
      } catch (err) {
        metrics?.publish(events, (performance.now() - started) / 1000, false);
        log?.warn('publishing failed; Temporal retries it', { error: err, events: events.length, correlationIds: correlationIds(events) });
        throw err;
      }
      metrics?.publish(events, (performance.now() - started) / 1000, true);
      const first = events[0];
      if (first) log?.debug('events published', { aggregate: `${first.aggregateType}:${first.aggregateId}`, versions: `${first.version}-${first.version + events.length - 1}`, correlationIds: correlationIds(events) });
    },
  };
}
