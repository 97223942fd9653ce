import type { Logger } from './logger';
import { createClient } from 'redis';

export type Redis = ReturnType<typeof createRedis>;

/**
 * A node-redis client that reconnects with capped backoff and never gives up; its errors are
 * logged, never left to crash the process (an 'error' event without a listener would).
 */
export function createRedis(url: string, name: string, log?: Logger, options: { failFast?: boolean } = {}) {
  const client = createClient({
    url,
    name,
    // Fail fast: a request while disconnected errors at once instead of waiting for the reconnect.
    disableOfflineQueue: options.failFast ?? false,
    socket: { reconnectStrategy: (retries) => Math.min(100 * 2 ** retries, 3000), connectTimeout: 3000 },
  });
  client.on('error', (err: unknown) => log?.warn({ err, client: name }, 'redis connection error; reconnecting'));
  return client;
}

/**
 * Closes a client whatever state it is in: pending commands get `graceMs` to finish, and a
 * client still trying to (re)connect stops trying (`quit` would leave it reconnecting forever).
 */
export async function closeRedis(client: Redis, graceMs = 2000): Promise<void> {
  if (client.isReady) {
    const closed = client.close().then(() => true, () => false);
    const timedOut = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), graceMs).unref());
    if (await Promise.race([closed, timedOut])) return;
  }
  client.destroy();
}

/** A Redis call that did not answer within its deadline (or was refused because too many were waiting). */
export class RedisTimeoutError extends Error {
  override readonly name = 'RedisTimeoutError';
}

export interface RedisDeadlines {
  /** How long one call may wait for its answer. */
  timeoutMs: number;
  /** Calls that may wait at once; beyond it a call is refused at once (a paused Redis would otherwise pile them up). */
  maxPending: number;
}

/**
 * The same client, with a deadline on every call that returns a promise. node-redis's own
 * command `timeout` only covers a command not yet written to the socket: one sent to a paused
 * (SIGSTOPped, swapping, `DEBUG SLEEP`ing) Redis waits for ever. A call past its deadline
 * rejects with RedisTimeoutError; its command stays queued on the connection until Redis
 * answers, so at most `maxPending` are let wait at once. Connecting and closing stay with
 * the unwrapped client.
 */
export function withDeadlines(client: Redis, { timeoutMs, maxPending }: RedisDeadlines): Redis {
  let pending = 0;
  const timed = (call: Promise<unknown>, name: string) => {
    pending += 1;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RedisTimeoutError(`Redis did not answer ${name} within ${timeoutMs} ms`)), timeoutMs);
    });
    return Promise.race([call, deadline]).finally(() => {
      clearTimeout(timer);
      pending -= 1;
    });
  };
  return new Proxy(client, {
    get(target, property) {
      // The client keeps private fields: its methods and getters run on the client itself, never on the proxy.
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (pending >= maxPending) return Promise.reject(new RedisTimeoutError(`${pending} Redis calls are waiting for an answer already`));
        const result: unknown = (value as (...a: unknown[]) => unknown).apply(target, args);
        return result instanceof Promise ? timed(result, String(property)) : result;
      };
    },
  });
}
