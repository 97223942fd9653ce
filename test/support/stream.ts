import type { AsyncMessage, Connection } from 'rabbitmq-client';
import { uniqueId } from './stack';

/** Reads the event log from its first offset until `done(messages)` holds (or times out). */
export async function readStream(
  rabbit: Connection,
  stream: string,
  done: (messages: AsyncMessage[]) => boolean,
  timeoutMs = 10_000,
): Promise<AsyncMessage[]> {
  const channel = await rabbit.acquire();
  const messages: AsyncMessage[] = [];
  try {
    await channel.basicQos({ prefetchCount: 1000 });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`condition not met by ${messages.length} messages on ${stream} after ${timeoutMs} ms`)), timeoutMs);
      channel
        .basicConsume({ queue: stream, arguments: { 'x-stream-offset': 'first' } }, (message) => {
          messages.push(message);
          channel.basicAck({ deliveryTag: message.deliveryTag });
          if (done(messages)) {
            clearTimeout(timer);
            resolve();
          }
        })
        .catch(reject);
    });
  } finally {
    await channel.close();
  }
  return messages;
}

/** What a filler publishes: the aggregate type, and each version's event type and payload. */
interface FillerShape {
  aggregateType: string;
  type: string;
  payload: (version: number) => Record<string, unknown>;
}

/**
 * `count` events straight onto the exchange, as workflows would publish them: round-robin over
 * `aggregates` new aggregates, one version of each per round, each round confirmed before the
 * next. Fills the log so a rebuild takes a while to replay.
 */
async function publishFiller(rabbit: Connection, exchange: string, count: number, aggregates: number, shape: FillerShape): Promise<void> {
  const publisher = rabbit.createPublisher({ confirm: true });
  const filler = uniqueId('filler');
  try {
    for (let start = 0; start < count; start += aggregates) {
      await Promise.all(
        Array.from({ length: Math.min(aggregates, count - start) }, (_, j) => {
          const i = start + j;
          const aggregateId = `${filler}-${i % aggregates}`;
          const version = Math.floor(i / aggregates) + 1;
          const event = {
            eventId: `${shape.aggregateType}:${aggregateId}:${version}`, aggregateType: shape.aggregateType, aggregateId, version, type: shape.type, schemaVersion: 1,
            payload: shape.payload(version), occurredAt: new Date().toISOString(), commandId: `f${i}`, correlationId: 'f', causationId: `f${i}`,
          };
          return publisher.send({ exchange, routingKey: `${shape.aggregateType}.${shape.type}`, messageId: event.eventId }, event);
        }),
      );
    }
  } finally {
    await publisher.close();
  }
}

/** `count` of the shop cart's ItemAddedToCart over `carts` carts (see publishFiller). */
export const publishCartFiller = (rabbit: Connection, exchange: string, count: number, carts = 100): Promise<void> =>
  publishFiller(rabbit, exchange, count, carts, { aggregateType: 'cart', type: 'ItemAddedToCart', payload: (version) => ({ itemId: `f${version}`, quantity: 1, unitPriceCents: 1 }) });

/** `count` of the ledger account's Deposited (a cent each) over `accounts` accounts (see publishFiller). */
export const publishAccountFiller = (rabbit: Connection, exchange: string, count: number, accounts = 100): Promise<void> =>
  publishFiller(rabbit, exchange, count, accounts, { aggregateType: 'account', type: 'Deposited', payload: (version) => ({ entryId: `f${version}`, amountCents: 1 }) });
