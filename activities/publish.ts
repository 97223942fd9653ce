import { Context } from '@temporalio/activity';
import type { Publisher } from 'rabbitmq-client';
import type { EventEnvelope } from '../core/envelopes';
import { routingKeyOf } from '../core/ids';
import type { WorkerMetrics } from '../infra/metrics';

export interface PublishDeps {
  publisher: Publisher;
  exchange: string;
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

export function createPublishActivities({ publisher, exchange, metrics }: PublishDeps) {
  return {
    /**
     * Publishes a batch of events in version order and resolves once the broker confirmed every
     * one. Any failure rejects the whole batch; Temporal retries it and consumers dedupe.
     */
    async publishEvents(events: EventEnvelope[]): Promise<void> {
      const started = performance.now();
      const log = activityLog();
      try {
        await Promise.all(
          events.map((event) =>
            publisher.send(
              {
                exchange,
                routingKey: routingKeyOf(event.aggregateType, event.type),
                messageId: event.eventId,
                correlationId: event.correlationId,
                contentType: 'application/json',
                durable: true,
                timestamp: Math.floor(Date.parse(event.occurredAt) / 1000),
                type: event.type,
                headers: { 'aggregate-version': event.version },
              },
              event,
            ),
          ),
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
