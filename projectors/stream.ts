import type { AsyncMessage, Connection } from 'rabbitmq-client';

/** The stream offset RabbitMQ stamps on every delivery from a stream queue. */
export const offsetOf = (message: AsyncMessage): number => Number(message.headers?.['x-stream-offset']);

export interface Subscription {
  /** Deliveries received and not yet taken. */
  readonly pending: AsyncMessage[];
  /** Resolves when a delivery arrives, the channel closes, or `interrupt()` is called. */
  next(): Promise<void>;
  readonly active: boolean;
  /** Credits the broker for every delivery up to and including this one. */
  ack(message: AsyncMessage): void;
  interrupt(): void;
  close(): Promise<void>;
}

/**
 * Consumes a stream queue from an offset on a channel of its own. Streams take no nack, and a
 * re-created consumer would restart at its original offset, so a closed subscription is never
 * revived: the caller opens a new one from its checkpoint.
 */
export async function subscribe(rabbit: Connection, stream: string, from: number | 'first' | 'next' | 'last', prefetch: number): Promise<Subscription> {
  const channel = await rabbit.acquire();
  const pending: AsyncMessage[] = [];
  let wake = () => {};
  // The broker cancels a consumer whose queue went away; the channel itself stays open.
  let cancelled = false;
  channel.once('close', () => wake());
  channel.on('basic.cancel', () => {
    cancelled = true;
    wake();
  });
  try {
    await channel.basicQos({ prefetchCount: prefetch });
    await channel.basicConsume({ queue: stream, arguments: { 'x-stream-offset': from } }, (message) => {
      pending.push(message);
      wake();
    });
  } catch (error) {
    if (channel.active) await channel.close().catch(() => {});
    throw error;
  }
  return {
    pending,
    next: () => new Promise<void>((resolve) => (wake = resolve)),
    get active() {
      return channel.active && !cancelled;
    },
    ack(message) {
      if (channel.active) channel.basicAck({ deliveryTag: message.deliveryTag, multiple: true });
    },
    interrupt: () => wake(),
    async close() {
      if (channel.active) await channel.close().catch(() => {});
    },
  };
}

export interface StreamTail {
  /** Offset of the newest message in the stream; -1 when it is empty. */
  offset: number;
}

/**
 * Finds the stream's newest offset over AMQP: a consumer from `last` receives the final chunk,
 * whose highest offset is the tail. Stops after `quietMs` without a delivery, and after
 * `maxMs` in any case (under load new messages never stop coming).
 */
export async function probeTail(rabbit: Connection, stream: string, quietMs = 100, maxMs = 400): Promise<StreamTail> {
  const deadline = Date.now() + maxMs;
  const subscription = await subscribe(rabbit, stream, 'last', 2000);
  let offset = -1;
  try {
    while (Date.now() < deadline) {
      const wait = Math.min(quietMs, deadline - Date.now());
      const arrived = await Promise.race([subscription.next().then(() => true), sleep(wait).then(() => false)]);
      for (const message of subscription.pending.splice(0)) {
        offset = Math.max(offset, offsetOf(message));
        subscription.ack(message);
      }
      if (!arrived || !subscription.active) break;
    }
  } finally {
    await subscription.close();
  }
  return { offset };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
