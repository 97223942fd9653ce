/**
 * The read side at its edges, on a real RabbitMQ stream and Redis (no Temporal: the events are
 * published straight to an isolated stream, as the aggregates' workflows would, with the gaps a
 * trimmed log or a lost publish leaves): gaps park and unpark, a rebuild over missing history is
 * held until accepted, a fan-out is applied in bounded chunks, the parked list is bounded, and
 * list queries page with a cursor.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Connection } from 'rabbitmq-client';
import { z } from 'zod';
import { projectionsOf } from '../../core/app';
import { loadConfig } from '../../core/config';
import type { EventEnvelope } from '../../core/envelopes';
import { defineProjection, type AnyProjection, type ProjectionSource } from '../../core/projection';
import { createLogger } from '../../infra/logger';
import { connectRabbit, declareTopology, type EventTopology } from '../../infra/rabbit';
import { closeRedis, createRedis, type Redis } from '../../infra/redis';
import { createProjectionAdmin } from '../../projectors/admin';
import { projectionKeys } from '../../projectors/keys';
import { startProjector, type Projector, type ProjectorOptions } from '../../projectors/runtime';
import { createReadModels, InvalidCursorError } from '../../projectors/store';
import { ledgerConfigPath } from '../support/apps';
import ledger from '../support/domains/ledger.config';
import { deleteKeys, envOf, eventually, uniqueId } from '../support/stack';
import { runCli } from '../support/cli';

const source = <const N extends string, E extends Record<string, z.ZodObject>>(name: N, events: E): ProjectionSource<N, E> => ({ name, events, upcasters: {} });
const customer = source('customer', { CustomerRegistered: z.object({ name: z.string() }), CustomerRenamed: z.object({ name: z.string() }) });
const order = source('order', { OrderCreated: z.object({ customerId: z.string(), at: z.number() }) });

/** Whether the `poison` name may be applied (a handler bug an operator fixes, then re-drives). */
let poisonFixed = false;

/** One document per customer, its name. */
const names = defineProjection<{ name: string; version: number }, typeof customer.events>({
  name: 'names',
  version: 1,
  source: customer,
  evolve(_doc, event) {
    if (event.payload.name === 'poison' && !poisonFixed) throw new Error('cannot apply poison');
    return { name: event.payload.name, version: event.version };
  },
});

type Summary = { kind: 'order'; orderId: string; customerId: string; customerName: string | null; at: number } | { kind: 'customer'; name: string };

/** Order summaries with their customer's name: a rename fans out over the byCustomer index. */
const summaries = defineProjection<Summary, readonly [typeof customer, typeof order]>({
  name: 'summaries',
  version: 1,
  sources: [customer, order],
  handlers: {
    'order.OrderCreated': {
      async apply(_doc, event, read) {
        const known = await read.get<Summary>(`customer:${event.payload.customerId}`);
        return { kind: 'order', orderId: event.aggregateId, customerId: event.payload.customerId, customerName: known?.kind === 'customer' ? known.name : null, at: event.payload.at };
      },
    },
    'customer.CustomerRenamed': {
      documents: (event) => [`customer:${event.aggregateId}`],
      fanOut: (event) => ({ index: 'byCustomer', key: event.aggregateId }),
      apply: (doc, event, _read, id) => (id.startsWith('customer:') ? { kind: 'customer', name: event.payload.name } : doc?.kind === 'order' ? { ...doc, customerName: event.payload.name } : doc),
    },
  },
  indexes: { byCustomer: (doc) => (doc.kind === 'order' ? { key: doc.customerId, score: doc.at } : null) },
});

/** An isolated log and key prefix, a publisher onto it, and projectors started on it (stopped at the end). */
function scene(rabbit: Connection, redis: Redis) {
  const run = uniqueId('rs');
  const topology: EventTopology = { exchange: `${run}.events`, stream: `${run}.log` };
  const prefix = `${run}`;
  const projectors: Projector[] = [];
  let offset = 0;
  const publisher = rabbit.createPublisher({ confirm: true });
  return {
    prefix,
    admin: (projections: readonly AnyProjection[]) => createProjectionAdmin(redis, prefix, projections),
    readModels: createReadModels(redis, prefix),
    async declare() {
      await declareTopology(rabbit, topology);
    },
    /** Publishes events in order, each confirmed. */
    async publish(...events: (readonly [aggregateType: string, aggregateId: string, version: number, type: string, payload: Record<string, unknown>])[]) {
      for (const [aggregateType, aggregateId, version, type, payload] of events) {
        const event: EventEnvelope = {
          eventId: `${aggregateType}:${aggregateId}:${version}`, aggregateType, aggregateId, version, type, schemaVersion: 1, payload,
          occurredAt: new Date().toISOString(), commandId: `c${offset}`, correlationId: 'rs', causationId: `c${offset++}`,
        };
        await publisher.send({ exchange: topology.exchange, routingKey: `${aggregateType}.${type}`, messageId: event.eventId }, event);
      }
    },
    /** Publishes many events in confirmed rounds of 500 (seeding). */
    async publishMany(events: EventEnvelope[]) {
      for (let i = 0; i < events.length; i += 500) {
        await Promise.all(events.slice(i, i + 500).map((e) => publisher.send({ exchange: topology.exchange, routingKey: `${e.aggregateType}.${e.type}`, messageId: e.eventId }, e)));
      }
    },
    start(projections: readonly AnyProjection[], options: ProjectorOptions = {}) {
      const projector = startProjector({ redis, rabbit, topology, prefix, log: createLogger('test', 'silent') }, projections, { tickMs: 200, leaseMs: 2000, ...options });
      projectors.push(projector);
      return projector;
    },
    async close() {
      await Promise.all(projectors.map((p) => p.stop()));
      await publisher.close();
      await rabbit.queueDelete({ queue: topology.stream }).catch(() => {});
      await rabbit.exchangeDelete({ exchange: topology.exchange }).catch(() => {});
      await deleteKeys(redis, `${prefix}:*`);
    },
  };
}

const renamed = (id: string, version: number, name: string) => ['customer', id, version, 'CustomerRenamed', { name }] as const;

describe('the read side at its edges', { timeout: 300_000 }, () => {
  let rabbit: Connection;
  let redis: Redis;
  before(async () => {
    rabbit = connectRabbit({ RABBITMQ_URL: process.env.RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672', EVENTS_EXCHANGE: 'read-side-test' }, 'test');
    redis = createRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', 'read-side-test');
    await redis.connect();
  });
  after(async () => {
    await closeRedis(redis);
    await rabbit.close();
  });

  it('parks an aggregate at a gap in live consumption, reports it, and unparks it once the missing version is republished', async () => {
    const s = scene(rabbit, redis);
    try {
      await s.declare();
      const admin = s.admin([names]);
      s.start([names]);
      // c1's v2 is missing (a publish lost, or trimmed by retention): v3 and v4 must not be applied past it.
      await s.publish(renamed('c1', 1, 'Ada'), renamed('c1', 3, 'Cy'), renamed('c1', 4, 'Di'), renamed('c2', 1, 'Bob'));
      const status = await eventually(async () => {
        const [st] = await admin.statuses();
        return st?.gapsOpen === 1 && st.parked === 2 && st.checkpoint === 3 ? st : undefined;
      }, 30_000, 'the gap reported');
      assert.equal(status.gaps, 1);
      assert.deepEqual(await s.readModels.get(names, 'c1'), { name: 'Ada', version: 1 }, 'nothing applied past the gap');
      assert.deepEqual(await s.readModels.get(names, 'c2'), { name: 'Bob', version: 1 }, 'other aggregates flow');
      assert.deepEqual(await admin.gaps('names'), [{ aggregate: 'customer:c1', expected: 2, got: 3, offset: 1 }]);
      const parked = await admin.parked('names');
      assert.deepEqual(parked.map((p) => [p.aggregate, p.version]), [['customer:c1', 3], ['customer:c1', 4]]);
      assert.match(parked[0]!.error, /gap: versions 2\.\.2 of customer:c1 are not in the log/);
      // Later events of the aggregate wait too.
      await s.publish(renamed('c1', 5, 'Eve'));
      await eventually(async () => ((await admin.parked('names')).length === 3 ? true : undefined), 30_000, 'v5 parked behind');

      // The missing version is republished: the aggregate is re-driven in version order.
      await s.publish(renamed('c1', 2, 'Bea'));
      await eventually(async () => {
        const doc = await s.readModels.get(names, 'c1');
        return doc?.version === 5 ? doc : undefined;
      }, 30_000, 'c1 re-driven to v5');
      assert.deepEqual(await s.readModels.get(names, 'c1'), { name: 'Eve', version: 5 });
      const healed = await eventually(async () => {
        const [st] = await admin.statuses();
        return st?.gapsOpen === 0 && st.parked === 0 ? st : undefined;
      }, 30_000, 'no gap, nothing parked');
      assert.equal(healed.halted, null);
      assert.equal(await redis.get(projectionKeys(s.prefix, 'names').redriveRequested), null, 'the re-drive request is done');
    } finally {
      await s.close();
    }
  });

  it('holds a rebuild whose log lacks an aggregate\u2019s first versions, names them, and switches only when the gaps are accepted', async () => {
    const s = scene(rabbit, redis);
    try {
      await s.declare();
      const admin = s.admin([names]);
      // The log as retention left it: c1 starts at v3 (its v1 and v2 are gone); c2 is whole.
      await s.publish(renamed('c1', 3, 'Cy'), renamed('c2', 1, 'Bob'), renamed('c1', 4, 'Di'), renamed('c2', 2, 'Bo'));
      s.start([names]);
      await eventually(async () => ((await admin.statuses())[0]?.checkpoint === 3 ? true : undefined), 30_000, 'live caught up');
      // c0 was applied by the live generation from events retention has since trimmed entirely.
      const keys = projectionKeys(s.prefix, 'names');
      await redis.hSet(keys.versions(1), 'customer:c0', '2');
      await redis.set(keys.document(1, 'c0'), JSON.stringify({ name: 'Old', version: 2 }));

      await admin.requestRebuild('names');
      const held = await eventually(async () => {
        const [st] = await admin.statuses();
        return st?.rebuild?.held?.gaps === 2 ? st : undefined;
      }, 30_000, 'the rebuild held');
      assert.deepEqual(held.rebuild!.held, { code: 'REBUILD_HELD_FOR_GAPS', gaps: 2 });
      assert.equal(held.generation, 1, 'the old generation keeps serving');
      const missing = (await admin.gaps('names', { of: 'rebuild' })).sort((a, b) => a.aggregate.localeCompare(b.aggregate));
      assert.deepEqual(missing, [
        { aggregate: 'customer:c0', expected: 1, got: 3, offset: -1 },
        { aggregate: 'customer:c1', expected: 1, got: 3, offset: 0 },
      ]);
      // It stays held (and the live generation keeps applying) while nobody accepts.
      await s.publish(renamed('c2', 3, 'Bobby'));
      await eventually(async () => ((await s.readModels.get(names, 'c2'))?.version === 3 ? true : undefined), 30_000, 'live still applies');
      const still = (await admin.statuses())[0]!;
      assert.equal(still.generation, 1);
      assert.ok(still.rebuild?.held);

      await admin.requestRebuild('names', { acceptGaps: true });
      const switched = await eventually(async () => {
        const [st] = await admin.statuses();
        return st?.generation === 2 && !st.rebuild ? st : undefined;
      }, 30_000, 'switched with the gaps accepted');
      assert.equal(switched.gapsOpen, 2, 'c0 and c1 stay missing in the new generation, and say so');
      assert.equal(await s.readModels.get(names, 'c0'), null);
      assert.equal(await s.readModels.get(names, 'c1'), null, 'dropped from the read model, not built from half its history');
      assert.deepEqual(await s.readModels.get(names, 'c2'), { name: 'Bobby', version: 3 });
      assert.equal(await redis.get(projectionKeys(s.prefix, 'names').acceptGaps), null, 'the acceptance is used up by the switch');
    } finally {
      await s.close();
    }
  });

  it('applies a fan-out in bounded chunks and pages a list query with a cursor', async () => {
    const s = scene(rabbit, redis);
    try {
      await s.declare();
      const orders = 230;
      const events: EventEnvelope[] = Array.from({ length: orders }, (_, i) => ({
        eventId: `order:o${i}:1`, aggregateType: 'order', aggregateId: `o${i}`, version: 1, type: 'OrderCreated', schemaVersion: 1,
        payload: { customerId: 'k1', at: 1000 + Math.floor(i / 3) }, occurredAt: new Date().toISOString(), commandId: `o${i}`, correlationId: 'rs', causationId: `o${i}`,
      }));
      await s.publishMany(events);
      await s.publish(renamed('k1', 1, 'Grace'), renamed('k1', 2, 'Grace H.'));
      const admin = s.admin([summaries]);
      s.start([summaries], { chunk: 40 });
      await eventually(async () => ((await admin.statuses())[0]?.checkpoint === orders + 1 ? true : undefined), 60_000, 'caught up');
      const keys = projectionKeys(s.prefix, 'summaries');
      assert.equal(await redis.hLen(keys.fanOuts(1)), 0, 'no fan-out left in progress');

      // Every summary renamed once, read back a page at a time (ties in score included).
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await s.readModels.page(summaries, 'byCustomer', { key: 'k1', order: 'desc', limit: 100, cursor });
        for (const doc of page.items) {
          assert.equal(doc.kind === 'order' && doc.customerName, 'Grace H.');
          if (doc.kind === 'order') seen.push(doc.orderId);
        }
        cursor = page.nextCursor ?? undefined;
        pages += 1;
      } while (cursor);
      assert.equal(pages, 3);
      assert.equal(seen.length, orders);
      assert.equal(new Set(seen).size, orders, 'no document twice');
      const overLimit = await s.readModels.page(summaries, 'byCustomer', { key: 'k1', limit: 1000 });
      assert.equal(overLimit.items.length, 100, 'a page holds at most maxPageSize');
      await assert.rejects(s.readModels.page(summaries, 'byCustomer', { key: 'k1', cursor: 'made-up' }), InvalidCursorError);
    } finally {
      await s.close();
    }
  });

  it('the CLI: `rebuild` exits 1 naming the aggregates and versions the log lacks; `--accept-gaps` switches and says what it drops', async () => {
    const s = scene(rabbit, redis);
    try {
      await s.declare();
      const projections = projectionsOf(ledger);
      // a1's first version was trimmed away; a2 is whole.
      const deposited = (id: string, version: number) => ['account', id, version, 'Deposited', { entryId: `e${version}`, amountCents: 100 }] as const;
      await s.publish(deposited('a1', 2), deposited('a2', 1), deposited('a1', 3));
      s.start(projections);
      const admin = s.admin(projections);
      await eventually(async () => ((await admin.statuses()).every((st) => st.checkpoint === 2) ? true : undefined), 30_000, 'live caught up');
      const config = loadConfig({ REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', REDIS_PREFIX: s.prefix });
      const env = { ...envOf(config, { LEDGERFLOW_CONFIG: ledgerConfigPath }), LOG_LEVEL: 'silent' };

      const held = await runCli(env, 'rebuild', 'accounts');
      assert.equal(held.code, 1, held.err);
      assert.match(held.out, /rebuild of accounts held \(REBUILD_HELD_FOR_GAPS\): the log lacks the history of 1 aggregate/);
      assert.match(held.out, /account:a1: versions 1\.\.1 missing \(the log holds v2 at offset 0\)/);
      assert.match(held.out, /--accept-gaps/);
      const json = await runCli(env, 'rebuild', 'accounts', '--json');
      assert.equal(json.code, 1);
      assert.deepEqual(JSON.parse(json.out).gaps, [{ aggregate: 'account:a1', expected: 1, got: 2, offset: 0 }]);

      const accepted = await runCli(env, 'rebuild', 'accounts', '--accept-gaps');
      assert.equal(accepted.code, 0, accepted.err);
      assert.match(accepted.out, /rebuilt: accounts now serves generation 2/);
      assert.match(accepted.out, /with gaps accepted, 1 aggregate\(s\) are parked behind their gaps, out of the read model:\n {2}account:a1: versions 1\.\.1 missing/);
      assert.equal(await s.readModels.get(projections.find((p) => p.name === 'accounts')!, 'a1'), null);
    } finally {
      await s.close();
    }
  });

  it('bounds the parked list: a full list halts the projection (nothing dropped) until a re-drive makes room', async () => {
    const s = scene(rabbit, redis);
    poisonFixed = false;
    try {
      await s.declare();
      const admin = s.admin([names]);
      s.start([names], { maxParked: 3 });
      await s.publish(...[1, 2, 3].map((i) => renamed(`p${i}`, 1, 'poison')));
      await eventually(async () => ((await admin.statuses())[0]?.parked === 3 ? true : undefined), 30_000, 'three parked');
      // A fourth would overflow the list: the projection stops before it, and after it nothing is applied.
      await s.publish(renamed('p4', 1, 'poison'), renamed('ok', 1, 'Fine'));
      const halted = await eventually(async () => {
        const [st] = await admin.statuses();
        return st?.halted ? st : undefined;
      }, 30_000, 'halted');
      assert.equal(halted.halted!.code, 'PARKED_LIST_FULL');
      assert.equal(halted.halted!.limit, 3);
      assert.equal(halted.parked, 3);
      assert.equal(halted.checkpoint, 2, 'the checkpoint stays before the batch that did not fit');
      assert.equal(await s.readModels.get(names, 'ok'), null);

      poisonFixed = true;
      await admin.requestRedrive('names');
      await eventually(async () => ((await s.readModels.get(names, 'ok'))?.name === 'Fine' ? true : undefined), 30_000, 'going again');
      const [after] = await admin.statuses();
      assert.equal(after!.parked, 0);
      for (const id of ['p1', 'p2', 'p3', 'p4']) assert.deepEqual(await s.readModels.get(names, id), { name: 'poison', version: 1 }, `${id} applied, none dropped`);
      await eventually(async () => ((await admin.statuses())[0]?.halted === null ? true : undefined), 30_000, 'halt cleared');
    } finally {
      poisonFixed = false;
      await s.close();
    }
  });
});
