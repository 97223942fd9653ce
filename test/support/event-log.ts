import assert from 'node:assert/strict';
import type { AsyncMessage } from 'rabbitmq-client';
import type { EventEnvelope } from '../../core/envelopes';

/**
 * One aggregate's events as the log holds them, read the way the contract promises them.
 * Delivery is at-least-once: a publish activity retried after the broker took its message (but
 * before the confirm reached Temporal) appends the same event again. Such a copy must be the
 * very same event: the same eventId (and AMQP message-id) and the same envelope. A different
 * event at a version already logged is a fork and fails here.
 *
 * Returns the first sighting of each version, in log order (the caller asserts 1..n), and the
 * number of copies that followed, so a test can report them rather than hide them.
 */
export function eventsInLog(messages: readonly AsyncMessage[], aggregateType: string, aggregateId: string): { events: EventEnvelope[]; duplicates: number } {
  const seen = new Map<number, EventEnvelope>();
  const events: EventEnvelope[] = [];
  let duplicates = 0;
  for (const message of messages) {
    const event = message.body as EventEnvelope;
    if (event.aggregateType !== aggregateType || event.aggregateId !== aggregateId) continue;
    assert.equal(message.messageId, event.eventId, `the message-id of ${aggregateType}:${aggregateId} v${event.version} is its eventId`);
    const first = seen.get(event.version);
    if (first) {
      assert.deepEqual(event, first, `${aggregateType}:${aggregateId} v${event.version} is logged twice as different events`);
      duplicates += 1;
    } else {
      seen.set(event.version, event);
      events.push(event);
    }
  }
  return { events, duplicates };
}

/** 1, 2, …, n: the gapless versions an aggregate's log must hold. */
export const versionsUpTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
