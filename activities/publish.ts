import type { Publisher } from 'rabbitmq-client';
import type { EventEnvelope } from '../core/envelopes';
import { routingKeyOf } from '../core/ids';

export interface PublishDeps {
  publisher: Publisher;
  exchange: string;
}

export function createPublishActivities({ publisher, exchange }: PublishDeps) {
  return {
    /**
     * Publishes a batch of events in version order and resolves once the broker confirmed every
     * one. Any failure rejects the whole batch; Temporal retries it and consumers dedupe.
     */
    async publishEvents(events: EventEnvelope[]): Promise<void> {
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
    },
  };
}
