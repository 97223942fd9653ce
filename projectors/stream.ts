import type { AsyncMessage, Connection } from 'rabbitmq-client';
import { sleep } from '../infra/deadline';

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
export async function subscribe(rabbit: Connection, stream: string, from: number | 'first' | 'next' | 'last', prefetch: number, consumerTag?: string): Promise<Subscription> {
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
    await channel.basicConsume({ queue: stream, ...(consumerTag ? { consumerTag } : {}), arguments: { 'x-stream-offset': from } }, (message) => {
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

/**
 * Follows the stream's newest offset with one long-lived consumer per process (it was a
 * consumer opened and closed every second per projection: dozens of short-lived consumers in
 * the RabbitMQ console). Started from `last`, it receives the final chunk at once and then every
 * new message, acking as it goes; after a broker outage it subscribes again from `last`. An
 * empty stream (nothing arrives within `quietMs` of subscribing) reads as -1.
 */
export interface TailFollower {
  /** Newest offset seen in the stream; -1 when it is empty; null until known. */
  offset(): number | null;
  close(): Promise<void>;
}

export function followTail(rabbit: Connection, stream: string, options: { consumerTag?: string; quietMs?: number; retryMs?: number } = {}): TailFollower {
  const { quietMs = 300, retryMs = 1000 } = options;
  let offset: number | null = null;
  let closed = false;
  let current: Subscription | undefined;
  const done = (async () => {
    while (!closed) {
      try {
        current = await subscribe(rabbit, stream, 'last', 2000, options.consumerTag);
        const quiet = setTimeout(() => void (offset ??= -1), quietMs);
        try {
          while (!closed && current.active) {
            const last = current.pending.at(-1);
            if (last) {
              for (const message of current.pending.splice(0)) offset = Math.max(offset ?? -1, offsetOf(message));
              current.ack(last);
              continue;
            }
            await current.next();
          }
        } finally {
          clearTimeout(quiet);
          await current.close();
        }
      } catch {
        // The broker is away or the stream not declared yet: keep the last known tail.
      }
      if (!closed) await sleep(retryMs);
    }
  })();
  return {
    offset: () => offset,
    async close() {
      closed = true;
      current?.interrupt();
      await done;
    },
  };
}

