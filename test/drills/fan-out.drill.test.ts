/**
 * Drill: one customer rename fanning out to 100,000 order summaries (the shop's read model), with
 * the shop's projector as deployed (a process of its own) on a redis-server of the drill's own
 * (so its SLOWLOG and latency are the drill's alone) and an isolated stream on the shared broker.
 *
 * Seeding: the customer's registration goes through the stream and the projector. The 100,000
 * summaries are written by the engine's own apply step and commit script (applyEntries and
 * commitBatch, in batches of 2,000, as the projector's owner), from the OrderCreated events the
 * order workflows would have published: documents, index entries and versions exactly as the
 * projector writes them, what a user has after a rebuild. They skip the stream only because
 * replaying 100,000 creations through every projection of the shop costs minutes on this shared
 * machine, and the drill is about the rename.
 *
 * Reports and asserts: every summary renamed (lost 0), each index holding each order once
 * (doubled 0), no Redis command during the rename over the stated 50 ms (SLOWLOG), the worst
 * PING a client saw meanwhile, and the projector's RSS before and during the rename.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Connection } from 'rabbitmq-client';
import { loadConfig, type Config } from '../../core/config';
import type { EventEnvelope } from '../../core/envelopes';
import { connectRabbit, declareTopology, topologyOf } from '../../infra/rabbit';
import { closeRedis, createRedis, type Redis } from '../../infra/redis';
import { projectionsOf } from '../../core/app';
import { applyEntries } from '../../projectors/apply';
import { commitBatch } from '../../projectors/commit';
import { projectionKeys } from '../../projectors/keys';
import { redisView } from '../../projectors/view';
import shop from '../../examples/shop/ledgerflow.config';
import { createReadModels } from '../../projectors/store';
import { orderSummaries } from '../../examples/shop/domain/order/projection';
import { ownRedis, type OwnRedis } from '../support/redis-server';
import { envOf, eventually, freePort, uniqueId } from '../support/stack';

const root = join(__dirname, '..', '..');
const orders = 100_000;
const customerId = 'k-drill';
/** The stated bound: no single Redis command of the fan-out takes longer. */
const slowMs = 50;

/** The projector's resident set, in MB, from /proc. */
const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

function envelope(aggregateType: string, aggregateId: string, version: number, type: string, payload: Record<string, unknown>): EventEnvelope {
  return {
    eventId: `${aggregateType}:${aggregateId}:${version}`, aggregateType, aggregateId, version, type, schemaVersion: 1, payload,
    occurredAt: new Date(Date.UTC(2026, 0, 1) + version).toISOString(), commandId: `${aggregateId}-${version}`, correlationId: 'drill', causationId: `${aggregateId}-${version}`,
  };
}

const orderCreated = (i: number) =>
  envelope('order', `o${i}`, 1, 'OrderCreated', {
    customerId, items: [{ itemId: 'book', quantity: 1, unitPriceCents: 1250 }], totalCents: 1250,
    shippingAddress: { line1: '1 Main St', city: 'Berlin', postalCode: '10115', country: 'DE' }, customerVersion: 1,
  });

describe('drill: a rename fanning out to 100,000 orders', { timeout: 600_000 }, () => {
  let server: OwnRedis;
  let redis: Redis;
  let rabbit: Connection;
  let config: Config;
  let projector: ChildProcess;

  before(async () => {
    server = await ownRedis();
    redis = createRedis(server.url, 'drill');
    await redis.connect();
    const run = uniqueId('fanout');
    config = loadConfig({ REDIS_URL: server.url, EVENTS_EXCHANGE: `ledgerflow.${run}`, EVENTS_STREAM: `ledgerflow.${run}.log`, REDIS_PREFIX: `lfdrill:${run}`, LOG_LEVEL: 'warn' });
    rabbit = connectRabbit(config, 'drill');
    await declareTopology(rabbit, topologyOf(config));
  });
  after(async () => {
    if (projector && projector.exitCode === null) {
      const exited = new Promise((resolve) => projector.once('exit', resolve));
      projector.kill('SIGTERM');
      await exited;
    }
    await rabbit?.queueDelete({ queue: config.EVENTS_STREAM }).catch(() => {});
    await rabbit?.exchangeDelete({ exchange: config.EVENTS_EXCHANGE }).catch(() => {});
    await rabbit?.close();
    if (redis) await closeRedis(redis);
    await server?.stop();
  });

  it('renames every summary in bounded Redis calls with the projector’s memory flat: none lost, none doubled', async () => {
    const publisher = rabbit.createPublisher({ confirm: true });
    const publish = (events: EventEnvelope[]) =>
      Promise.all(events.map((e) => publisher.send({ exchange: config.EVENTS_EXCHANGE, routingKey: `${e.aggregateType}.${e.type}`, messageId: e.eventId }, e)));
    const seedStarted = Date.now();
    const keys = projectionKeys(config.REDIS_PREFIX, orderSummaries.name);
    await seedSummaries(redis, keys, orders);
    const published = Date.now();
    await publish([envelope('customer', customerId, 1, 'CustomerRegistered', { name: 'Grace', email: 'grace@example.com' })]);

    const env = envOf(config, { LEDGERFLOW_CONFIG: join(root, 'examples', 'shop', 'ledgerflow.config.ts'), PROJECTOR_METRICS_PORT: String(await freePort()) });
    projector = spawn(process.execPath, ['--import', 'tsx', join(root, 'bin', 'projector.ts')], { env, stdio: ['ignore', 'ignore', 'inherit'] });
    const readModels = createReadModels(redis, config.REDIS_PREFIX);
    const seeded = await eventually(async () => ((await readModels.appliedVersion(orderSummaries, 'customer', customerId)) === 1 ? Date.now() : undefined), 120_000, 'the registration applied');
    // Every projection of the shop at the log's end, so only the rename runs while it is measured.
    await eventually(async () => {
      const statuses = await Promise.all(projectionsOf(shop).map((p) => redis.get(projectionKeys(config.REDIS_PREFIX, p.name).checkpoint(1))));
      return statuses.every((c) => c === '0') ? true : undefined;
    }, 120_000, 'every projection at the end of the log');
    const memberKey = keys.index(1, 'byCustomer', customerId);
    assert.equal(await redis.zCard(memberKey), orders);
    const baseline = Math.max(...(await samples(() => rssMb(projector.pid!), 5, 200)));

    // The rename, timed from the outside: SLOWLOG for the server's view, a PING loop for a client's.
    await redis.sendCommand(['CONFIG', 'SET', 'slowlog-log-slower-than', String(slowMs * 1000)]);
    await redis.sendCommand(['SLOWLOG', 'RESET']);
    const pinger = createRedis(server.url, 'drill-ping');
    await pinger.connect();
    let pinging = true;
    let worstPingMs = 0;
    let peakRss = baseline;
    const pings = (async () => {
      while (pinging) {
        const sent = performance.now();
        await pinger.ping();
        worstPingMs = Math.max(worstPingMs, performance.now() - sent);
        peakRss = Math.max(peakRss, rssMb(projector.pid!));
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    const renameStarted = Date.now();
    await publish([envelope('customer', customerId, 2, 'CustomerRenamed', { name: 'Grace Hopper' })]);
    await eventually(async () => ((await readModels.appliedVersion(orderSummaries, 'customer', customerId)) === 2 ? true : undefined), 300_000, 'the rename applied');
    const renameSeconds = (Date.now() - renameStarted) / 1000;
    pinging = false;
    await pings;
    await closeRedis(pinger);
    await publisher.close();
    const slow = (await redis.sendCommand(['SLOWLOG', 'GET', '128'])) as [number, number, number, string[]][];

    // Every summary, read back in bounded pages: renamed once, none missing, none twice.
    let renamed = 0;
    let lost = 0;
    let read = 0;
    const ids = new Set<string>();
    let cursor: string | undefined;
    do {
      const page = await readModels.page(orderSummaries, 'byCustomer', { key: customerId, limit: 100, cursor });
      for (const doc of page.items) {
        if (doc.kind !== 'order') continue;
        read += 1;
        ids.add(doc.orderId);
        if (doc.customerName === 'Grace Hopper') renamed += 1;
        else lost += 1;
      }
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    const doubled = read - ids.size;
    assert.equal(ids.size, orders, 'every order summary in the index once');
    const fanOutsLeft = await redis.hLen(keys.fanOuts(1));

    const report = {
      orders,
      seedSeconds: (published - seedStarted) / 1000,
      projectorReadySeconds: (seeded - published) / 1000,
      renameSeconds,
      renamed,
      lost: orders - renamed + lost,
      doubled,
      slowCommands: slow.map(([, , micros, args]) => ({ ms: micros / 1000, command: args.slice(0, 2).join(' ') })),
      worstPingMs: Math.round(worstPingMs),
      projectorRssMb: { beforeRename: Math.round(baseline), peakDuringRename: Math.round(peakRss) },
    };
    console.log(`fan-out drill: ${JSON.stringify(report)}`);
    assert.equal(renamed, orders, 'every summary renamed');
    assert.equal(lost, 0);
    assert.equal(doubled, 0);
    assert.equal(fanOutsLeft, 0, 'no fan-out left half done');
    assert.deepEqual(report.slowCommands, [], `no Redis command over ${slowMs} ms during the rename`);
    assert.ok(peakRss - baseline < 64, `the projector's memory stays flat (${Math.round(baseline)} → ${Math.round(peakRss)} MB)`);
  });
});

/**
 * The summaries of `count` orders as the projector writes them: the OrderCreated events applied
 * by applyEntries and committed by commitBatch, 2,000 a batch, holding the projector's lease
 * meanwhile (the commit script writes only for the lease's holder), with the checkpoint left
 * before the log's first offset, where the projector picks up.
 */
async function seedSummaries(redis: Redis, keys: ReturnType<typeof projectionKeys>, count: number) {
  const owner = 'drill-seeder';
  await redis.hSet(keys.meta, { generation: '1', version: String(orderSummaries.version) });
  await redis.set(keys.lease, owner);
  const target = { keys, projection: orderSummaries.name, channel: 'drill-seed', owner, generation: 1, guard: 'generation' as const };
  const view = redisView(redis, keys, 1);
  for (let first = 0; first < count; first += 2000) {
    const entries = Array.from({ length: Math.min(2000, count - first) }, (_, i) => ({ offset: -1, body: orderCreated(first + i) }));
    const { batch, counters } = await applyEntries(orderSummaries, entries, view);
    assert.equal(counters.applied, entries.length);
    assert.equal(await commitBatch(redis, target, batch, { checkpoint: -1 }), 'OK');
  }
  await redis.del([keys.lease, keys.checkpoint(1)]);
}

/** `count` readings `everyMs` apart. */
async function samples(read: () => number, count: number, everyMs: number): Promise<number[]> {
  const values: number[] = [];
  for (let i = 0; i < count; i++) {
    values.push(read());
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  return values;
}
