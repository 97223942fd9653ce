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

/**
 * `count` cart events straight onto the exchange, as workflows would publish them: round-robin
 * over `carts` new carts, one version of each per round, each round confirmed before the next.
 * Fills the log so a rebuild takes a while to replay.
 */
export async function publishCartFiller(rabbit: Connection, exchange: string, count: number, carts = 100): Promise<void> {
  const publisher = rabbit.createPublisher({ confirm: true });
  const filler = uniqueId('filler');
  try {
    for (let start = 0; start < count; start += carts) {
      await Promise.all(
        Array.from({ length: Math.min(carts, count - start) }, (_, j) => {
          const i = start + j;
          const aggregateId = `${filler}-${i % carts}`;
          const version = Math.floor(i / carts) + 1;
          const event = {
            eventId: `cart:${aggregateId}:${version}`, aggregateType: 'cart', aggregateId, version, type: 'ItemAddedToCart', schemaVersion: 1,
            payload: { itemId: `f${version}`, quantity: 1, unitPriceCents: 1 }, occurredAt: new Date().toISOString(), commandId: `f${i}`, correlationId: 'f', causationId: `f${i}`,
          };
          return publisher.send({ exchange, routingKey: 'cart.ItemAddedToCart', messageId: event.eventId }, event);
        }),
      );
    }
  } finally {
    await publisher.close();
  }
}
