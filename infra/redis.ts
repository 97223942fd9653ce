import { createClient } from 'redis';

export type Redis = ReturnType<typeof createRedis>;

/** A node-redis client that reconnects with capped backoff and never gives up. */
export function createRedis(url: string, name: string) {
  return createClient({
    url,
    name,
    socket: { reconnectStrategy: (retries) => Math.min(100 * 2 ** retries, 3000), connectTimeout: 3000 },
  });
}
