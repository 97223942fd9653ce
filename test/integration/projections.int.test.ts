import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { defineProjection } from '../../core/projection';
import { cart, cartProjection, type CartReadModel } from '../../domain';
import { createLogger } from '../../infra/logger';
import { topologyOf } from '../../infra/rabbit';
import { createProjectionAdmin } from '../../projectors/admin';
import { startProjector } from '../../projectors/runtime';
import { projectionKeys } from '../../projectors/keys';
import { createReadModels } from '../../projectors/store';
import { envOf, eventually, startTestStack, uniqueId, type TestStack } from '../support/stack';

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
    const publisher = stack.rabbit.createPublisher({ confirm: true });
    const filler = uniqueId('filler');
    await Promise.all(
      Array.from({ length: 3000 }, (_, i) => {
        const aggregateId = `${filler}-${i % 100}`;
        const version = Math.floor(i / 100) + 1;
        const event = {
          eventId: `cart:${aggregateId}:${version}`, aggregateType: 'cart', aggregateId, version, type: 'ItemAddedToCart', schemaVersion: 1,
          payload: { itemId: `f${version}`, quantity: 1, unitPriceCents: 1 }, occurredAt: new Date().toISOString(), commandId: `f${i}`, correlationId: 'f', causationId: `f${i}`,
        };
        return publisher.send({ exchange: stack.config.EVENTS_EXCHANGE, routingKey: 'cart.ItemAddedToCart', messageId: event.eventId }, event);
      }),
    );
    await publisher.close();
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
