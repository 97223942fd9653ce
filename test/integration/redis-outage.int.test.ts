import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRedis } from '../../infra/redis';
import { ownRedis, type OwnRedis } from '../support/redis-server';
import { eventually, startTestStack, uniqueId, type TestStack } from '../support/stack';

describe('the read side heals itself (a redis-server of the test’s own)', { timeout: 180_000 }, () => {
  let redisServer: OwnRedis;
  let stack: TestStack;
  before(async () => {
    redisServer = await ownRedis();
    stack = await startTestStack({ env: { REDIS_URL: redisServer.url } });
  });
  after(async () => {
    await stack?.stop();
    await redisServer?.stop();
  });

  const cartOf = (cartId: string, minVersion: number) =>
    eventually(
      () => stack.trpc.cart.get.query({ cartId }).then((doc) => (doc.version >= minVersion ? doc : undefined), () => undefined),
      30_000,
      `${cartId} at version ${minVersion}`,
    );

  it('rebuilds every read model by itself after Redis loses all its data (FLUSHALL)', async () => {
    const carts = [uniqueId('flush'), uniqueId('flush')];
    for (const cartId of carts) {
      await stack.trpc.cart.addItem.mutate({ cartId, itemId: 'a', quantity: 2, price: 1.1 });
      await stack.trpc.cart.addItem.mutate({ cartId, itemId: 'b', quantity: 1, price: 0.2, wait: 'projected' });
    }
    const admin = createRedis(redisServer.url, 'test-admin');
    await admin.connect();
    await admin.flushAll();
    assert.equal(await admin.dbSize(), 0);
    await admin.quit();

    for (const cartId of carts) {
      const doc = await cartOf(cartId, 2);
      assert.equal(doc.totalPrice, 2.4);
      assert.equal(doc.totalItems, 3);
    }
    const status = await eventually(async () => {
      const s = (await stack.trpc.system.projections.query())[0]!;
      return s.state === 'live' && s.lagEvents === 0 ? s : undefined;
    }, 20_000, 'live again');
    assert.equal(status.parked, 0);
  });

  it('accepts commands while Redis is down, and projects them once it is back', async () => {
    const cartId = uniqueId('outage');
    await stack.trpc.cart.addItem.mutate({ cartId, itemId: 'before', quantity: 1, price: 5, wait: 'projected' });

    await redisServer.stop();
    const during = [];
    for (let i = 0; i < 5; i++) during.push(await stack.trpc.cart.addItem.mutate({ cartId, itemId: `during-${i}`, quantity: 1, price: 1 }));
    assert.deepEqual(during.map((r) => r.version), [2, 3, 4, 5, 6], 'decided by the aggregate with Redis down');
    // Reads answer that Redis is away (503, retryable), rather than hanging or a 500.
    const read = await fetch(`${stack.api!.url}/trpc/cart.get?input=${encodeURIComponent(JSON.stringify({ cartId }))}`);
    assert.equal(read.status, 503);
    const body = (await read.json()) as { error: { message: string; data: { retryable: boolean } } };
    assert.match(body.error.message, /Redis is unavailable/);
    assert.equal(body.error.data.retryable, true);

    await new Promise((resolve) => setTimeout(resolve, 1500));
    await redisServer.start(); // empty: this server keeps nothing on disk

    const doc = await cartOf(cartId, 6);
    assert.equal(doc.items.length, 6);
    assert.equal(doc.totalPrice, 10);
  });
});
