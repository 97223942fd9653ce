import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import type { EventEnvelope } from '../../core/envelopes';
import { defineProjection, type DocOf } from '../../core/projection';
import { cart, cartProjection, type CartReadModel } from '../../examples/shop/domain';
import { createLogger } from '../../infra/logger';
import { topologyOf } from '../../infra/rabbit';
import { createProjectionAdmin } from '../../projectors/admin';
import { applyEntries } from '../../projectors/apply';
import { commitBatch } from '../../projectors/commit';
import { startProjector } from '../../projectors/runtime';
import { appliedChannel, projectionKeys } from '../../projectors/keys';
import { createReadModels, type AppliedNotice } from '../../projectors/store';
import { redisView } from '../../projectors/view';
import { envOf, eventually, startTestStack, uniqueId, type TestStack } from '../support/stack';
import { publishCartFiller } from '../support/stream';

/** A second projection beside the cart's: item counts per cart, with a handler that can be broken. */
let poisonFixed = false;
const itemCounts = defineProjection<{ cartId: string; lines: number; version: number }, typeof cart.events>({
  name: 'item-counts',
  version: 1,
  source: cart,
  evolve(doc, event) {
    const current = doc ?? { cartId: event.aggregateId, lines: 0, version: 0 };
    if (event.type === 'ItemAddedToCart') {
      if (event.payload.itemId === 'poison' && !poisonFixed) throw new Error('cannot count poison');
      return { ...current, lines: current.lines + 1, version: event.version };
    }
    if (event.type === 'ItemRemovedFromCart') return { ...current, lines: current.lines - 1, version: event.version };
    return { ...current, version: event.version };
  },
});

describe('projection engine', { timeout: 240_000 }, () => {
  let stack: TestStack;
  before(async () => {
    stack = await startTestStack({ projections: [cartProjection, itemCounts] });
  });
  after(async () => {
    await stack?.stop();
  });

  const admin = () => createProjectionAdmin(stack.redis, stack.config.REDIS_PREFIX, [cartProjection, itemCounts]);
  const statusOf = async (name: string) => (await stack.trpc.system.projections.query()).find((s) => s.name === name)!;

  it('runs several projections side by side, each with its own checkpoint, and reports lag', async () => {
    const cartId = uniqueId('side');
    await stack.trpc.cart.addItem.mutate({ cartId, itemId: 'a', quantity: 1, price: 1, wait: 'projected' });
    const counts = await eventually(() => createReadModels(stack.redis, stack.config.REDIS_PREFIX).get(itemCounts, cartId).then((d) => d ?? undefined));
    assert.equal(counts.lines, 1);

    const statuses = await eventually(async () => {
      const all = await stack.trpc.system.projections.query();
      return all.every((s) => s.state === 'live' && s.tail !== null && s.checkpoint !== null && s.checkpoint >= s.tail!) ? all : undefined;
    }, 10_000, 'both projections live and caught up');
    assert.deepEqual(statuses.map((s) => s.name).sort(), ['carts', 'item-counts']);
    for (const s of statuses) {
      assert.equal(s.lagEvents, 0);
      assert.equal(typeof s.lagSeconds, 'number');
      assert.equal(s.owner, stack.projector!.instanceId);
      assert.equal(s.generation, 1);
    }
    const checkpoints = await Promise.all(['carts', 'item-counts'].map((n) => stack.redis.get(projectionKeys(stack.config.REDIS_PREFIX, n).checkpoint(1))));
    assert.ok(checkpoints.every((c) => c !== null), 'a checkpoint per projection');

    const metrics = await (await fetch(`${stack.api!.url}/metrics`)).text();
    assert.match(metrics, /ledgerflow_projection_lag_events\{projection="carts"\} 0/);
    assert.match(metrics, /ledgerflow_projection_up\{projection="item-counts"\} 1/);
  });

  it('follows the stream tail with one long-lived consumer instead of a probe per tick', async () => {
    const stream = stack.config.EVENTS_STREAM;
    // Every tick (500 ms here) used to open a channel and a probe consumer per projection: the
    // console showed consumers coming and going. Count the channels opened while idle.
    const acquire = stack.rabbit.acquire.bind(stack.rabbit);
    let opened = 0;
    stack.rabbit.acquire = (...args) => {
      opened++;
      return acquire(...args);
    };
    try {
      await new Promise((resolve) => setTimeout(resolve, 3000));
    } finally {
      stack.rabbit.acquire = acquire;
    }
    assert.equal(opened, 0, 'no channel opened while idle');
    // The console lists the follower under its own name.
    const tag = `ledgerflow.tail.${stack.projector!.instanceId}`;
    await eventually(async () => {
      const consumers = (await (await fetch('http://127.0.0.1:15672/api/consumers', { headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` } })).json()) as { consumer_tag: string; queue: { name: string } }[];
      return consumers.some((c) => c.consumer_tag === tag && c.queue.name === stream) || undefined;
    }, 10_000, 'the tail follower in the management API');

    // The tail it reports moves with the stream.
    const cartId = uniqueId('tail');
    const before = (await statusOf('carts')).tail ?? -1;
    await stack.trpc.cart.addItem.mutate({ cartId, itemId: 'a', quantity: 1, price: 1, wait: 'projected' });
    await eventually(async () => ((await statusOf('carts')).tail! > before ? true : undefined), 10_000, 'tail advanced');
  });

  it('parks a poison event, keeps the rest of the stream flowing, and re-drives it after a fix', async () => {
    const sick = uniqueId('sick');
    const healthy = uniqueId('healthy');
    await stack.trpc.cart.addItem.mutate({ cartId: sick, itemId: 'ok-1', quantity: 1, price: 1 });
    await stack.trpc.cart.addItem.mutate({ cartId: sick, itemId: 'poison', quantity: 1, price: 1 });
    await stack.trpc.cart.addItem.mutate({ cartId: sick, itemId: 'ok-2', quantity: 1, price: 1 });
    const last = await stack.trpc.cart.addItem.mutate({ cartId: healthy, itemId: 'x', quantity: 1, price: 1 });

    const readModels = createReadModels(stack.redis, stack.config.REDIS_PREFIX);
    // The stream moved on: the other cart is counted, and the cart projection has everything.
    await eventually(() => readModels.get(itemCounts, healthy).then((d) => (d?.version === last.version ? d : undefined)), 10_000, 'healthy counted');
    const fullCart = await stack.trpc.cart.get.query({ cartId: sick, minVersion: 3 });
    assert.equal(fullCart.items.length, 3);

    const parked = await eventually(async () => {
      const list = await stack.trpc.system.parked.query({ projection: 'item-counts' });
      return list.length === 2 ? list : undefined;
    }, 10_000, 'poison and the event behind it parked');
    assert.deepEqual(parked.map((p) => [p.aggregate, p.version]), [[`cart:${sick}`, 2], [`cart:${sick}`, 3]]);
    assert.match(parked[0]!.error, /cannot count poison/);
    assert.equal(parked[0]!.attempts, 3);
    assert.match(parked[1]!.error, /waiting behind an earlier parked event/);
    assert.equal((await readModels.get(itemCounts, sick))?.lines, 1, 'stopped before the poison event, in order');
    assert.equal((await eventually(async () => ((await statusOf('item-counts')).parked === 2 ? statusOf('item-counts') : undefined))).parked, 2);

    poisonFixed = true;
    const { parked: count } = await stack.trpc.system.redrive.mutate({ projection: 'item-counts' });
    assert.equal(count, 2);
    const healed = await eventually(() => readModels.get(itemCounts, sick).then((d) => (d?.version === 3 ? d : undefined)), 10_000, 're-driven');
    assert.equal(healed.lines, 3);
    assert.deepEqual(await admin().parked('item-counts'), []);
    // Later events of the cart flow normally again.
    await stack.trpc.cart.removeItem.mutate({ cartId: sick, itemId: 'ok-1' });
    await eventually(() => readModels.get(itemCounts, sick).then((d) => (d?.version === 4 && d.lines === 2 ? d : undefined)), 10_000, 'unblocked');

    const unknown = await stack.trpc.system.redrive.mutate({ projection: 'nope' }).then(() => null, (e: { data?: { code?: string } }) => e);
    assert.equal(unknown?.data?.code, 'NOT_FOUND');
  });

  it('parks an event it cannot read, with the events of its aggregate behind it', async () => {
    const cartId = uniqueId('unreadable');
    const envelope = (version: number, payload: Record<string, unknown>) => ({
      eventId: `cart:${cartId}:${version}`, aggregateType: 'cart', aggregateId: cartId, version, type: 'ItemAddedToCart', schemaVersion: 1,
      payload, occurredAt: new Date().toISOString(), commandId: `k${version}`, correlationId: 'k', causationId: `k${version}`,
    });
    const publisher = stack.rabbit.createPublisher({ confirm: true });
    for (const event of [envelope(1, { itemId: 'a', quantity: 'lots', unitPriceCents: 1 }), envelope(2, { itemId: 'b', quantity: 1, unitPriceCents: 1 })]) {
      await publisher.send({ exchange: stack.config.EVENTS_EXCHANGE, routingKey: 'cart.ItemAddedToCart', messageId: event.eventId }, event);
    }
    await publisher.close();
    const parked = await eventually(async () => {
      const list = (await admin().parked('carts')).filter((p) => p.aggregate === `cart:${cartId}`);
      return list.length === 2 ? list : undefined;
    }, 10_000, 'both parked');
    assert.match(parked[0]!.error, /invalid ItemAddedToCart payload/);
    assert.equal(parked[0]!.version, 1);
    assert.match(parked[1]!.error, /waiting behind/);
    assert.equal(await stack.readModels.get(cartProjection, cartId), null, 'nothing applied past the unreadable event');
  });

  it('rebuilds under load into a new generation while reads stay consistent, then drops the old one', async () => {
    const carts = Array.from({ length: 20 }, () => uniqueId('rb'));
    for (const cartId of carts) await stack.trpc.cart.addItem.mutate({ cartId, itemId: 'first', quantity: 1, price: 1, wait: 'projected' });
    // A few thousand events of other carts in the log, so the rebuild takes a while to replay.
    await publishCartFiller(stack.rabbit, stack.config.EVENTS_EXCHANGE, 3000);
    const before = await statusOf('carts');

    let writing = true;
    const writes = (async () => {
      let i = 0;
      while (writing) {
        // A few items per cart, added again and again: quantities grow, lines stay under the cart's limit.
        await stack.trpc.cart.addItem.mutate({ cartId: carts[i % carts.length]!, itemId: `more-${Math.floor(i / carts.length) % 5}`, quantity: 1, price: 0.5 });
        i += 1;
      }
      return i;
    })();
    // Readers check every cart over and over: never missing, never going back a version, and
    // each read tells (in the same step) whether a rebuild was under way while it was served.
    const seen = new Map<string, number>();
    const metaKey = `${stack.config.REDIS_PREFIX}:proj:carts:meta`;
    let reads = 0;
    let readsDuringRebuild = 0;
    let reading = true;
    const readers = (async () => {
      while (reading) {
        for (const cartId of carts) {
          const [rebuilding] = await stack.redis.multi().hGet(metaKey, 'rebuilding').exec();
          const doc = (await stack.readModels.get(cartProjection, cartId)) as CartReadModel | null;
          assert.ok(doc, `${cartId} readable throughout`);
          assert.ok(doc.version >= (seen.get(cartId) ?? 0), `${cartId} never goes back a version`);
          assert.equal(doc.totalItems, doc.items.reduce((sum, item) => sum + item.quantity, 0), 'a consistent document');
          seen.set(cartId, doc.version);
          reads += 1;
          if (rebuilding !== null) readsDuringRebuild += 1;
        }
      }
    })();

    try {
      await stack.trpc.system.rebuild.mutate({ projection: 'carts' });
      await eventually(async () => {
        const s = await statusOf('carts');
        return s.generation === before.generation! + 1 && s.state === 'live' ? s : undefined;
      }, 60_000, 'switched to the new generation');
      await new Promise((resolve) => setTimeout(resolve, 300));
    } finally {
      writing = false;
      reading = false;
    }
    const written = await writes;
    await readers;
    assert.ok(written > 0 && reads > 0);
    assert.ok(readsDuringRebuild > 0, 'reads were served while the rebuild replayed the log');

    // Every cart complete in the new generation; the old generation's keys are gone.
    for (const cartId of carts) {
      const handle = stack.temporal.workflow.getHandle(`cart:${cartId}`);
      const version = (await handle.query('version')) as number;
      const doc = await stack.trpc.cart.get.query({ cartId, minVersion: version });
      assert.equal(doc.version, version);
      assert.equal(doc.totalItems, version, 'one unit per command, none applied twice');
    }
    await eventually(async () => {
      const keys: string[] = [];
      for await (const batch of stack.redis.scanIterator({ MATCH: `${stack.config.REDIS_PREFIX}:rm:carts:g${before.generation}:*` })) keys.push(...batch);
      return keys.length === 0 ? true : undefined;
    }, 10_000, 'old generation dropped');
  });

  it('rebuilds at start when the projection definition version is raised', async () => {
    const before = await statusOf('carts');
    await stack.projector!.stop();
    const cartsV2 = defineProjection({ ...cartProjection, version: cartProjection.version + 1 });
    stack.projector = startProjector(
      { redis: stack.redis, rabbit: stack.rabbit, topology: topologyOf(stack.config), prefix: stack.config.REDIS_PREFIX, log: createLogger('test', 'warn') },
      [cartsV2, itemCounts],
      { tickMs: 500, leaseMs: 3000 },
    );
    const after = await eventually(async () => {
      const s = await statusOf('carts');
      return s.version === cartsV2.version && s.state === 'live' ? s : undefined;
    }, 60_000, 'rebuilt with version 2');
    assert.equal(after.generation, before.generation! + 1);
  });
});

describe('several projector instances', { timeout: 120_000 }, () => {
  let stack: TestStack;
  let child: ChildProcess | undefined;
  before(async () => {
    stack = await startTestStack({ projectorOptions: { tickMs: 500, leaseMs: 3000 } });
  });
  after(async () => {
    child?.kill('SIGKILL');
    await stack?.stop();
  });

  it('lets one instance own a projection; a standby takes over within seconds when the owner dies, without double-applying', async () => {
    // The in-process projector is the first owner; stop it and start an owner we can kill.
    await stack.projector!.stop();
    const env = envOf(stack.config);
    child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, '..', '..', 'bin', 'projector.ts')], { env, stdio: 'ignore' });
    const status = async () => (await stack.trpc.system.projections.query()).find((s) => s.name === 'carts')!;
    const childOwner = await eventually(async () => {
      const s = await status();
      return s.owner && s.state === 'live' ? s.owner : undefined;
    }, 30_000, 'the child owns the projection');
    const standby = stack.startProjector();
    assert.notEqual(childOwner, standby.instanceId);

    const cartId = uniqueId('lease');
    for (let i = 0; i < 5; i++) await stack.trpc.cart.addItem.mutate({ cartId, itemId: `a${i}`, quantity: 1, price: 1, wait: 'projected' });
    assert.equal(standby.status()[0]!.state, 'standby');

    child.kill('SIGKILL');
    for (let i = 5; i < 10; i++) await stack.trpc.cart.addItem.mutate({ cartId, itemId: `a${i}`, quantity: 1, price: 1 });
    const s = await eventually(async () => {
      const current = await status();
      return current.owner === standby.instanceId && current.state === 'live' ? current : undefined;
    }, 20_000, 'the standby took over');
    const doc = await stack.trpc.cart.get.query({ cartId, minVersion: 10 });
    assert.equal(doc.items.length, 10);
    assert.ok(doc.items.every((item) => item.quantity === 1), 'nothing applied twice');
    assert.equal(s.gaps, 0);
  });
});

/**
 * A second aggregate, test-only: tags put on carts. It is not in the workflow registry, so its
 * events are published straight to the exchange, as a workflow would publish them.
 */
const tag = {
  name: 'tag' as const,
  events: {
    TagCreated: z.object({ label: z.string() }),
    TagRenamed: z.object({ label: z.string() }),
    /** Puts this tag on a cart (taking the cart away from the tag it had). */
    TagApplied: z.object({ cartId: z.string() }),
  },
  upcasters: {},
};

interface TaggedCart {
  kind: 'cart';
  cartId: string;
  lines: number;
  tagId: string | null;
  label: string | null;
}
interface TagLabel {
  kind: 'tag';
  tagId: string;
  label: string;
}
const tagDoc = (tagId: string) => `tag:${tagId}`;
const untagged = (cartId: string): TaggedCart => ({ kind: 'cart', cartId, lines: 0, tagId: null, label: null });
let poisonLabelFixed = false;

/** Carts with their tag's current label: fed by carts and tags, a rename fanned out to every tagged cart. */
const taggedCarts = defineProjection<TaggedCart | TagLabel, [typeof cart, typeof tag]>({
  name: 'tagged-carts',
  version: 1,
  sources: [cart, tag],
  handlers: {
    'cart.ItemAddedToCart': {
      apply: (doc, event) => {
        const current = doc?.kind === 'cart' ? doc : untagged(event.aggregateId);
        return { ...current, lines: current.lines + 1 };
      },
    },
    'tag.TagCreated': {
      documents: (event) => [tagDoc(event.aggregateId)],
      apply: (_doc, event) => ({ kind: 'tag', tagId: event.aggregateId, label: event.payload.label }),
    },
    'tag.TagRenamed': {
      documents: async (event, read) => [tagDoc(event.aggregateId), ...(await read.ids('byTag', { key: event.aggregateId }))],
      apply: (doc, event) => {
        if (event.payload.label === 'poison' && !poisonLabelFixed) throw new Error('cannot print poison');
        return doc?.kind === 'cart' ? { ...doc, label: event.payload.label } : { kind: 'tag', tagId: event.aggregateId, label: event.payload.label };
      },
    },
    'tag.TagApplied': {
      documents: (event) => [event.payload.cartId],
      apply: async (doc, event, read) => {
        const label = await read.get<TagLabel>(tagDoc(event.aggregateId));
        return { ...(doc?.kind === 'cart' ? doc : untagged(event.payload.cartId)), tagId: event.aggregateId, label: label?.label ?? null };
      },
    },
  },
  indexes: {
    byTag: (doc) => (doc.kind === 'cart' && doc.tagId !== null ? { key: doc.tagId, score: doc.lines } : null),
  },
});
type TaggedDoc = DocOf<typeof taggedCarts>;

/** Envelopes with gapless versions per aggregate, as the aggregate's workflow would write them. */
function envelopes() {
  const versions = new Map<string, number>();
  return <T extends string>(aggregateType: 'tag' | 'cart', aggregateId: string, type: T, payload: Record<string, unknown>): EventEnvelope => {
    const version = (versions.get(`${aggregateType}:${aggregateId}`) ?? 0) + 1;
    versions.set(`${aggregateType}:${aggregateId}`, version);
    return {
      eventId: `${aggregateType}:${aggregateId}:${version}`, aggregateType, aggregateId, version, type, schemaVersion: 1, payload,
      occurredAt: new Date().toISOString(), commandId: `${aggregateId}-${version}`, correlationId: aggregateId, causationId: `${aggregateId}-${version}`,
    };
  };
}

describe('a projection fed by two aggregates', { timeout: 240_000 }, () => {
  let stack: TestStack;
  before(async () => {
    stack = await startTestStack({ projections: [cartProjection, taggedCarts] });
  });
  after(async () => {
    await stack?.stop();
  });

  const event = envelopes();
  async function publish(...events: EventEnvelope[]) {
    const publisher = stack.rabbit.createPublisher({ confirm: true });
    for (const e of events) {
      await publisher.send({ exchange: stack.config.EVENTS_EXCHANGE, routingKey: `${e.aggregateType}.${e.type}`, messageId: e.eventId }, e);
    }
    await publisher.close();
  }
  const read = (id: string) => stack.readModels.get(taggedCarts, id);
  const cartsOf = async (tagId: string) => (await stack.readModels.list(taggedCarts, 'byTag', { key: tagId })).map((d) => (d as TaggedCart).cartId).sort();
  const labels = async (cartIds: string[]) => Promise.all(cartIds.map(async (id) => ((await read(id)) as TaggedCart | null)?.label ?? null));
  const statusOf = async () => (await stack.trpc.system.projections.query()).find((s) => s.name === taggedCarts.name)!;

  it('fans an event out to every document, reads documents while applying, moves keyed index members, and rebuilds to the same documents', async () => {
    const [k1, k2, k3] = [uniqueId('k1'), uniqueId('k2'), uniqueId('k3')];
    const [t1, t2] = [uniqueId('t1'), uniqueId('t2')];
    for (const cartId of [k1, k2, k3]) await stack.trpc.cart.addItem.mutate({ cartId, itemId: 'a', quantity: 1, price: 1 });

    await publish(
      event('tag', t1, 'TagCreated', { label: 'red' }),
      event('tag', t1, 'TagApplied', { cartId: k1 }),
      event('tag', t1, 'TagApplied', { cartId: k2 }),
      event('tag', t2, 'TagCreated', { label: 'blue' }),
      event('tag', t2, 'TagApplied', { cartId: k3 }),
      event('tag', t1, 'TagRenamed', { label: 'crimson' }),
    );
    // The rename reached both of t1's carts through its keyed index; applying read the tag's label.
    await eventually(async () => ((await labels([k1, k2, k3])).join() === 'crimson,crimson,blue' ? true : undefined), 15_000, 'renamed on every cart of t1');
    assert.deepEqual(await cartsOf(t1), [k1, k2].sort());
    assert.deepEqual(await cartsOf(t2), [k3]);
    for (const id of [k1, k2, k3]) assert.equal(((await read(id)) as TaggedCart).lines, 1, 'cart events and tag events in one document');

    // k2 moves from t1 to t2: the old member goes in the same commit as the new one comes.
    await publish(event('tag', t2, 'TagApplied', { cartId: k2 }), event('tag', t2, 'TagRenamed', { label: 'navy' }));
    await eventually(async () => ((await labels([k1, k2, k3])).join() === 'crimson,navy,navy' ? true : undefined), 15_000, 'k2 moved and renamed with t2');
    assert.deepEqual(await cartsOf(t1), [k1]);
    assert.deepEqual(await cartsOf(t2), [k2, k3].sort());

    // Everything committed with the checkpoint: versions per aggregate, the keyed sets under the generation.
    // The status is published every tick: wait for one that agrees with what is committed and has nothing pending.
    const keys = projectionKeys(stack.config.REDIS_PREFIX, taggedCarts.name);
    const status = await eventually(async () => {
      const s = await statusOf();
      if (s.state !== 'live' || s.lagEvents !== 0 || s.generation === null) return undefined;
      return Number(await stack.redis.get(keys.checkpoint(s.generation))) === s.checkpoint ? s : undefined;
    }, 15_000, 'caught up, the status agreeing with the committed checkpoint');
    const generation = status.generation!;
    assert.deepEqual(await stack.redis.hmGet(keys.versions(generation), [`tag:${t1}`, `tag:${t2}`, `cart:${k1}`]), ['4', '4', '1']);
    assert.deepEqual(await stack.redis.zRange(keys.index(generation, 'byTag', t2), 0, -1), [k2, k3].sort());

    // Rebuilt from the log into a new generation: the same documents and index members.
    const ids = [k1, k2, k3, tagDoc(t1), tagDoc(t2)];
    const before = await Promise.all(ids.map(read));
    await stack.trpc.system.rebuild.mutate({ projection: taggedCarts.name });
    await eventually(async () => {
      const s = await statusOf();
      return s.generation === generation + 1 && s.state === 'live' ? s : undefined;
    }, 60_000, 'switched to the rebuilt generation');
    assert.deepEqual(await Promise.all(ids.map(read)), before);
    assert.deepEqual(await cartsOf(t1), [k1]);
    assert.deepEqual(await cartsOf(t2), [k2, k3].sort());
    await eventually(async () => {
      const left: string[] = [];
      for await (const batch of stack.redis.scanIterator({ MATCH: `${stack.config.REDIS_PREFIX}:rm:${taggedCarts.name}:g${generation}:*` })) left.push(...batch);
      return left.length === 0 ? true : undefined;
    }, 10_000, 'old generation dropped, keyed index sets included');
  });

  it('parks a failing event of one aggregate behind which its later events wait, lets the other aggregate flow, and re-drives them', async () => {
    const [k1, k2] = [uniqueId('pk1'), uniqueId('pk2')];
    const [t1, t2] = [uniqueId('pt1'), uniqueId('pt2')];
    await publish(
      event('tag', t1, 'TagCreated', { label: 'red' }),
      event('tag', t1, 'TagApplied', { cartId: k1 }),
      event('tag', t2, 'TagCreated', { label: 'blue' }),
      event('tag', t2, 'TagApplied', { cartId: k2 }),
      event('tag', t1, 'TagRenamed', { label: 'poison' }),
      event('tag', t1, 'TagRenamed', { label: 'scarlet' }),
      event('tag', t2, 'TagRenamed', { label: 'teal' }),
    );
    await eventually(async () => ((await labels([k2])).join() === 'teal' ? true : undefined), 15_000, 't2 flows on');
    const parked = await eventually(async () => {
      const list = await stack.trpc.system.parked.query({ projection: taggedCarts.name });
      return list.length === 2 ? list : undefined;
    }, 15_000, 'the poison rename and the one behind it parked');
    assert.deepEqual(parked.map((p) => [p.aggregate, p.version]), [[`tag:${t1}`, 3], [`tag:${t1}`, 4]]);
    assert.deepEqual(await labels([k1]), ['red'], 'nothing of the failed fan-out applied');

    poisonLabelFixed = true;
    await stack.trpc.system.redrive.mutate({ projection: taggedCarts.name });
    await eventually(async () => ((await labels([k1])).join() === 'scarlet' ? true : undefined), 15_000, 're-driven in order');
    assert.deepEqual(await stack.trpc.system.parked.query({ projection: taggedCarts.name }), []);
  });

  it('writes a batch in one step guarded by the lease: documents, keyed index moves, versions, checkpoint and notice, or nothing', async () => {
    // A projection nobody runs, written by hand the way the runtime writes it.
    const scratch = defineProjection<TaggedCart | TagLabel, [typeof cart, typeof tag]>({ ...taggedCarts, name: uniqueId('scratch'), sources: [cart, tag] });
    const keys = projectionKeys(stack.config.REDIS_PREFIX, scratch.name);
    await stack.redis.hSet(keys.meta, 'generation', '1');
    await stack.redis.set(keys.lease, 'owner');
    const target = { keys, projection: scratch.name, channel: appliedChannel(stack.config.REDIS_PREFIX), generation: 1, guard: 'generation' as const };
    const view = redisView(stack.redis, keys, 1);
    const [k1, t1, t2] = [uniqueId('sk'), uniqueId('st1'), uniqueId('st2')];
    const own = envelopes();
    const entries = (events: EventEnvelope[], from: number) => events.map((body, i) => ({ offset: from + i, body }));

    // One batch whose later events read what its earlier ones wrote.
    const first = await applyEntries(scratch, entries([
      own('tag', t1, 'TagCreated', { label: 'red' }),
      own('cart', k1, 'ItemAddedToCart', { itemId: 'a', quantity: 1, unitPriceCents: 100 }),
      own('tag', t1, 'TagApplied', { cartId: k1 }),
      own('tag', t1, 'TagRenamed', { label: 'crimson' }),
    ], 100), view);
    assert.equal(await commitBatch(stack.redis, { ...target, owner: 'intruder' }, first.batch, { checkpoint: 103 }), 'LEASE_LOST');
    const written = async () => {
      const found: string[] = [];
      for await (const batch of stack.redis.scanIterator({ MATCH: `${stack.config.REDIS_PREFIX}:*${scratch.name}:g1*` })) found.push(...batch);
      return found.sort();
    };
    assert.deepEqual(await written(), [], 'a refused commit writes nothing');

    const subscriber = stack.redis.duplicate();
    await subscriber.connect();
    const notices: AppliedNotice[] = [];
    await subscriber.subscribe(target.channel, (message) => {
      const notice = JSON.parse(message) as AppliedNotice;
      if (notice.projection === scratch.name) notices.push(notice);
    });
    try {
      assert.equal(await commitBatch(stack.redis, { ...target, owner: 'owner' }, first.batch, { checkpoint: 103 }), 'OK');
      assert.deepEqual(await stack.readModels.get(scratch, k1), { kind: 'cart', cartId: k1, lines: 1, tagId: t1, label: 'crimson' } satisfies TaggedDoc);
      assert.equal(await stack.redis.get(keys.checkpoint(1)), '103');
      assert.deepEqual(await stack.redis.hGetAll(keys.versions(1)), { [`tag:${t1}`]: '3', [`cart:${k1}`]: '1' });
      assert.deepEqual(await stack.redis.zRange(keys.index(1, 'byTag', t1), 0, -1), [k1]);

      // The next batch moves the cart to another tag: the old member is removed in the same commit.
      const second = await applyEntries(scratch, entries([own('tag', t2, 'TagCreated', { label: 'blue' }), own('tag', t2, 'TagApplied', { cartId: k1 })], 104), view);
      assert.equal(await commitBatch(stack.redis, { ...target, owner: 'owner' }, second.batch, { checkpoint: 105 }), 'OK');
      assert.deepEqual(await stack.redis.zRange(keys.index(1, 'byTag', t1), 0, -1), []);
      assert.deepEqual(await stack.readModels.list(scratch, 'byTag', { key: t2 }), [{ kind: 'cart', cartId: k1, lines: 1, tagId: t2, label: 'blue' }]);
      await eventually(async () => (notices.length === 2 ? true : undefined), 5_000, 'a notice per commit');
      assert.deepEqual(notices, [
        { projection: scratch.name, generation: 1, versions: { [`tag:${t1}`]: 3, [`cart:${k1}`]: 1 } },
        { projection: scratch.name, generation: 1, versions: { [`tag:${t2}`]: 2 } },
      ]);
    } finally {
      await subscriber.quit();
    }
  });
});
