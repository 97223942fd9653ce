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
