/**
 * The Redis ceiling for a replay: the writes a projection commit makes for the same events (each
 * event's document SET, its version HSET and its index ZADD; one checkpoint SET per batch), sent
 * as plain pipelines of one batch each, with no script, lease or guard. Documents are computed
 * beforehand with the projection's own `evolve`, so only Redis is timed.
 */
import { cartProjection, type CartReadModel } from '../../examples/shop/domain';
import type { Redis } from '../../infra/redis';
import { seedEvent } from './seed';

export interface RedisCeilingFigures {
  events: number;
  /** Events per second written that way. */
  eventsPerSec: number;
  /** Redis commands per second. */
  opsPerSec: number;
}

/** The projector's default batch size. */
const batchSize = 500;

export async function measureRedisCeiling(redis: Redis, prefix: string, events: number, occurredAt: string): Promise<RedisCeilingFigures> {
  const base = `${prefix}:raw`;
  const docs = new Map<string, CartReadModel>();
  const writes = Array.from({ length: events }, (_, n) => {
    const event = seedEvent(n, occurredAt);
    const doc = cartProjection.evolve(docs.get(event.aggregateId) ?? null, event as never)!;
    docs.set(event.aggregateId, doc);
    return { id: event.aggregateId, version: event.version, json: JSON.stringify(doc), score: Date.parse(doc.updatedAt) };
  });
  let ops = 0;
  const started = performance.now();
  for (let start = 0; start < events; start += batchSize) {
    const pipeline = redis.multi();
    for (const w of writes.slice(start, start + batchSize)) {
      pipeline.set(`${base}:rm:carts:${w.id}`, w.json);
      pipeline.hSet(`${base}:versions`, `cart:${w.id}`, String(w.version));
      pipeline.zAdd(`${base}:index:openSince`, { score: w.score, value: w.id });
      ops += 3;
    }
    pipeline.set(`${base}:checkpoint`, String(Math.min(start + batchSize, events) - 1));
    ops += 1;
    await pipeline.execAsPipeline();
  }
  const seconds = (performance.now() - started) / 1000;
  return { events, eventsPerSec: Math.round(events / seconds), opsPerSec: Math.round(ops / seconds) };
}
