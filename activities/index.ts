import type { Publisher } from 'rabbitmq-client';
import type { AnyAggregate } from '../core/aggregate';
import { decideStep, type DecideStepInput, type StepDecision } from '../core/decider';
import type { EventEnvelope } from '../core/envelopes';
import { routingKeyOf } from '../core/ids';
import { aggregates as registered } from '../domain';

export interface ActivityDeps {
  publisher: Publisher;
  exchange: string;
  /** The aggregates deciding runs against (the registry's by default). */
  aggregates?: Readonly<Record<string, AnyAggregate>>;
}

/** Activities get their clients from here; workflows import this module as a type only. */
export function createActivities({ publisher, exchange, aggregates = registered }: ActivityDeps) {
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

    /**
     * Decides the head of an aggregate's mailbox (a local activity: its result is recorded in the
     * workflow's history, so a replay never decides again, whatever `decide` says by then).
     */
    async decideCommands(input: DecideStepInput): Promise<StepDecision[]> {
      const aggregate = Object.hasOwn(aggregates, input.aggregateType) ? aggregates[input.aggregateType] : undefined;
      if (!aggregate) throw new Error(`unknown aggregate type '${input.aggregateType}'`);
      return decideStep(aggregate, input);
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
