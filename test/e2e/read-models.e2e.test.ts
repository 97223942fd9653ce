import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { createRedis } from '../../infra/redis';
import { ownRedis, type OwnRedis } from '../support/redis-server';
import { address, registerCustomer, stock } from '../support/shop';
import { eventually, startTestStack, uniqueId, type TestStack } from '../support/stack';

/** Read models fed by several aggregates, through the API, and what survives a rebuild or a Redis loss. */
describe('read models across aggregates (a redis-server of the test’s own)', { timeout: 300_000 }, () => {
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

  const customerId = uniqueId('reader');
  const product = uniqueId('product');
  const orderIds = [1, 2, 3].map((n) => `${customerId}-o${n}`);

  /** What a user would look at: every summary, the active list, the customer, the stock. */
  const snapshot = async () => ({
    summaries: await Promise.all(orderIds.map((orderId) => stack.trpc.order.get.query({ orderId }))),
    active: (await stack.trpc.order.activeForCustomer.query({ customerId })).map((o) => o.orderId),
    customer: await stack.trpc.customer.get.query({ customerId }),
    stock: await stack.trpc.inventory.get.query({ productId: product }),
  });

  it('keeps every order summary of a customer current with the customer’s name, and answers active orders newest first', async () => {
    await registerCustomer(stack, customerId, 'Grace Hopper');
    await stock(stack, { [product]: 7 });
    for (const orderId of orderIds) {
      await stack.trpc.order.create.mutate({ orderId, customerId, items: [{ itemId: product, quantity: 1, price: 2.5 }], shippingAddress: address, wait: 'projected' });
    }
    assert.deepEqual((await snapshot()).summaries.map((s) => s.customerName), Array(3).fill('Grace Hopper'));

    await stack.trpc.customer.rename.mutate({ customerId, name: 'Rear Admiral Hopper', wait: 'projected' });
    const renamed = await snapshot();
    assert.deepEqual(renamed.summaries.map((s) => s.customerName), Array(3).fill('Rear Admiral Hopper'), 'a rename reaches every summary');
    assert.deepEqual(renamed.active, [...orderIds].reverse(), 'newest first');

    await stack.trpc.order.ship.mutate({ orderId: orderIds[0]! });
    await stack.trpc.order.complete.mutate({ orderId: orderIds[0]!, wait: 'projected' });
    await stack.trpc.order.cancel.mutate({ orderId: orderIds[1]!, reason: 'no longer needed', wait: 'projected' });
    const settled = await snapshot();
    assert.deepEqual(settled.active, [orderIds[2]], 'completed and cancelled orders are not active');
    assert.deepEqual(settled.summaries.map((s) => s.status), ['completed', 'cancelled', 'created']);
    assert.deepEqual((await stack.trpc.order.byStatus.query({ status: 'cancelled' })).map((o) => o.orderId).filter((id) => orderIds.includes(id)), [orderIds[1]]);
  });

  it('gives the same answers after a rebuild of every projection', async () => {
    const before = await snapshot();
    const generations = Object.fromEntries((await stack.trpc.system.projections.query()).map((p) => [p.name, p.generation!]));
    for (const name of Object.keys(generations)) await stack.trpc.system.rebuild.mutate({ projection: name });
    await eventually(async () => {
      const now = await stack.trpc.system.projections.query();
      return now.every((p) => p.state === 'live' && p.generation === generations[p.name]! + 1) ? true : undefined;
    }, 120_000, 'every projection rebuilt');
    assert.deepEqual(await snapshot(), before);
  });

  it('gives the same answers after Redis loses all its data', async () => {
    const before = await snapshot();
    const admin = createRedis(redisServer.url, 'test-admin');
    await admin.connect();
    await admin.flushAll();
    await admin.quit();
    // Mid-rebuild some documents are back and others not yet: wait until everything is.
    const after = await eventually(() => snapshot().then((s) => (isDeepStrictEqual(s, before) ? s : undefined), () => undefined), 120_000, 'read models rebuilt from the log');
    assert.deepEqual(after, before);
  });
});
