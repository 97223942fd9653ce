import type { AsyncMessage, Connection } from 'rabbitmq-client';
import type { z } from 'zod';
import { eventEnvelopeSchema, type EventEnvelope } from '../core/envelopes';
import type { AnyProjection } from '../core/projection';
import { upcast } from '../core/upcasting';
import type { Logger } from '../infra/logger';
import type { EventTopology } from '../infra/rabbit';
import type { Redis } from '../infra/redis';
import { aggregateKey, appliedChannel, projectionKeys } from './keys';

export interface ProjectorDeps {
  /** A connection of the projector's own: batches are written with MULTI/EXEC on it. */
  redis: Redis;
  rabbit: Connection;
  topology: EventTopology;
  prefix: string;
  log: Logger;
}

export interface ProjectorOptions {
  /** Most events applied in one Redis transaction. */
  batchSize?: number;
  /** Stream credit: deliveries in flight before acks. */
  prefetch?: number;
}

export interface ProjectionStatus {
  name: string;
  generation: number;
  /** Stream offset of the last event applied (or skipped), null before the first. */
  checkpoint: number | null;
  applied: number;
  duplicatesSkipped: number;
  gaps: number;
  parked: number;
  lastAppliedAt: string | null;
  state: 'starting' | 'live' | 'waiting';
}

export interface Projector {
  status(): ProjectionStatus[];
  stop(): Promise<void>;
}

export interface ParkedEvent {
  offset: number;
  error: string;
  event: unknown;
  parkedAt: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs each projection as its own stream consumer, resuming from its checkpoint in Redis. */
export function startProjector(deps: ProjectorDeps, projections: readonly AnyProjection[], options: ProjectorOptions = {}): Projector {
  const runners = projections.map((projection) => runProjection(deps, projection, options));
  return {
    status: () => runners.map((runner) => runner.status()),
    stop: async () => {
      await Promise.all(runners.map((runner) => runner.stop()));
    },
  };
}

function runProjection(deps: ProjectorDeps, projection: AnyProjection, options: ProjectorOptions) {
  const { redis, rabbit, topology, prefix } = deps;
  const log = deps.log.child({ projection: projection.name });
  const keys = projectionKeys(prefix, projection.name);
  const batchSize = options.batchSize ?? 500;
  const prefetch = options.prefetch ?? 1000;
  const status: ProjectionStatus = {
    name: projection.name,
    generation: 1,
    checkpoint: null,
    applied: 0,
    duplicatesSkipped: 0,
    gaps: 0,
    parked: 0,
    lastAppliedAt: null,
    state: 'starting',
  };
  let stopped = false;
  /** Wakes the consume loop: a delivery arrived, the channel closed, or stop was asked. */
  let wake = () => {};
  const nextWake = () => new Promise<void>((resolve) => (wake = resolve));

  async function loadPosition(): Promise<void> {
    await redis.hSetNX(keys.meta, 'generation', '1');
    await redis.hSetNX(keys.meta, 'version', String(projection.version));
    const meta = await redis.hGetAll(keys.meta);
    status.generation = Number(meta.generation);
    if (Number(meta.version) !== projection.version) {
      log.warn({ stored: meta.version, defined: projection.version }, 'projection version changed; rebuild it to apply the new definition');
    }
    const checkpoint = await redis.get(keys.checkpoint(status.generation));
    status.checkpoint = checkpoint === null ? null : Number(checkpoint);
  }

  /** Applies one batch and commits documents, versions and checkpoint in one transaction. */
  async function apply(messages: AsyncMessage[]): Promise<void> {
    const generation = status.generation;
    const events: EventEnvelope[] = [];
    const parked: ParkedEvent[] = [];
    let lastOffset: number | null = null;
    for (const message of messages) {
      const offset = Number(message.headers?.['x-stream-offset']);
      if (status.checkpoint !== null && offset <= status.checkpoint) continue;
      lastOffset = offset;
      const parsed = parseEvent(message.body, projection);
      if (parsed === 'other') continue;
      if ('error' in parsed) parked.push({ offset, error: parsed.error, event: message.body, parkedAt: new Date().toISOString() });
      else events.push(parsed.event);
    }
    if (lastOffset === null) return;

    const aggregateKeys = [...new Set(events.map((e) => aggregateKey(e.aggregateType, e.aggregateId)))];
    const documentIds = [...new Set(events.map((e) => projection.documentId(e)))];
    const [storedVersions, storedDocs] = await Promise.all([
      aggregateKeys.length ? redis.hmGet(keys.versions(generation), aggregateKeys) : Promise.resolve([]),
      documentIds.length ? redis.mGet(documentIds.map((id) => keys.document(generation, id))) : Promise.resolve([]),
    ]);
    const versions = new Map(aggregateKeys.map((key, i) => [key, Number(storedVersions[i] ?? 0)]));
    const docs = new Map<string, unknown>(documentIds.map((id, i) => [id, storedDocs[i] == null ? null : JSON.parse(storedDocs[i]!)]));
    const changedDocs = new Set<string>();
    const changedVersions = new Map<string, number>();
    let applied = 0;
    let duplicates = 0;

    for (const event of events) {
      const key = aggregateKey(event.aggregateType, event.aggregateId);
      const last = versions.get(key) ?? 0;
      if (event.version <= last) {
        duplicates += 1;
        continue;
      }
      if (event.version > last + 1) {
        status.gaps += 1;
        log.warn({ aggregate: key, expected: last + 1, got: event.version }, 'version gap: events missing from the log');
      }
      const id = projection.documentId(event);
      try {
        docs.set(id, projection.evolve(docs.get(id) ?? null, event));
      } catch (error) {
        parked.push({ offset: -1, error: String(error), event, parkedAt: new Date().toISOString() });
        continue;
      }
      versions.set(key, event.version);
      changedVersions.set(key, event.version);
      changedDocs.add(id);
      applied += 1;
    }

    const tx = redis.multi();
    for (const id of changedDocs) {
      const doc = docs.get(id);
      if (doc === null) tx.del(keys.document(generation, id));
      else tx.set(keys.document(generation, id), JSON.stringify(doc));
    }
    if (changedVersions.size) tx.hSet(keys.versions(generation), Object.fromEntries([...changedVersions].map(([k, v]) => [k, String(v)])));
    for (const item of parked) tx.rPush(keys.parked, JSON.stringify(item));
    tx.set(keys.checkpoint(generation), String(lastOffset));
    if (changedVersions.size) {
      tx.publish(appliedChannel(prefix), JSON.stringify({ projection: projection.name, versions: Object.fromEntries(changedVersions) }));
    }
    await tx.exec();

    status.checkpoint = lastOffset;
    status.applied += applied;
    status.duplicatesSkipped += duplicates;
    status.parked += parked.length;
    if (applied) status.lastAppliedAt = new Date().toISOString();
    for (const item of parked) log.error({ offset: item.offset, error: item.error }, 'event parked');
  }

  /** One subscription: from the checkpoint until the channel closes or the projector stops. */
  async function consume(): Promise<void> {
    const channel = await rabbit.acquire();
    channel.once('close', () => wake());
    const pending: AsyncMessage[] = [];
    try {
      await channel.basicQos({ prefetchCount: prefetch });
      const from = status.checkpoint === null ? 'first' : status.checkpoint + 1;
      await channel.basicConsume({ queue: topology.stream, arguments: { 'x-stream-offset': from } }, (message) => {
        pending.push(message);
        wake();
      });
      status.state = 'live';
      log.info({ from, generation: status.generation }, 'consuming the event log');
      while (!stopped && channel.active) {
        if (pending.length === 0) {
          await nextWake();
          continue;
        }
        const batch = pending.splice(0, batchSize);
        await withRetry(() => apply(batch));
        if (channel.active) channel.basicAck({ deliveryTag: batch[batch.length - 1]!.deliveryTag, multiple: true });
      }
    } finally {
      if (channel.active) await channel.close().catch(() => {});
    }
  }

  /** Redis errors are retried until they pass: an outage delays the read side and loses nothing. */
  async function withRetry(step: () => Promise<void>): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await step();
      } catch (error) {
        if (stopped) throw error;
        status.state = 'waiting';
        log.warn({ error: String(error), attempt }, 'projection step failed; retrying');
        await sleep(Math.min(100 * 2 ** attempt, 5000));
      }
    }
  }

  const done = (async () => {
    while (!stopped) {
      try {
        await withRetry(loadPosition);
        await consume();
      } catch (error) {
        if (!stopped) log.warn({ error: String(error) }, 'event log subscription lost; resubscribing');
      }
      if (!stopped) {
        status.state = 'waiting';
        await Promise.race([sleep(500), nextWake()]);
      }
    }
  })();

  return {
    status: () => ({ ...status }),
    async stop() {
      stopped = true;
      wake();
      await done;
    },
  };
}

function parseEvent(body: unknown, projection: AnyProjection): 'other' | { event: EventEnvelope } | { error: string } {
  let value = body;
  if (Buffer.isBuffer(body) || typeof body === 'string') {
    try {
      value = JSON.parse(body.toString());
    } catch {
      return { error: 'body is not JSON' };
    }
  }
  const envelope = eventEnvelopeSchema.safeParse(value);
  if (!envelope.success) return { error: `not an event envelope: ${envelope.error.message}` };
  if (envelope.data.aggregateType !== projection.source.name) return 'other';
  const schema: z.ZodObject | undefined = Object.hasOwn(projection.source.events, envelope.data.type)
    ? projection.source.events[envelope.data.type]
    : undefined;
  if (!schema) return { error: `unknown event type ${envelope.data.type}` };
  let current: EventEnvelope;
  try {
    current = upcast(projection.source, envelope.data);
  } catch (error) {
    return { error: String(error) };
  }
  const payload = schema.safeParse(current.payload);
  if (!payload.success) return { error: `invalid ${current.type} payload: ${payload.error.message}` };
  return { event: { ...current, payload: payload.data as Record<string, unknown> } };
}
