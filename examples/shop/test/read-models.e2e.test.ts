import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { eventually, uniqueId } from 'ledgerflow/testing/stack';
import { address, registerCustomer, startShopStack, stock, type ShopStack } from './support/shop';

/**
 * Deletes every key under `pattern` and counts what is left, in one script: nothing the
 * projector heals meanwhile can hide a key left over. Answers [deleted, left].
 */
const dropKeys = `
local keys = redis.call('KEYS', ARGV[1])
for i = 1, #keys, 1000 do redis.call('DEL', unpack(keys, i, math.min(i + 999, #keys))) end
return { #keys, #redis.call('KEYS', ARGV[1]) }`;

/** Read models fed by several aggregates, through the API, and what survives a rebuild or the loss of every key in Redis. */
describe('read models across aggregates', { timeout: 300_000 }, () => {
  let stack: ShopStack;
  before(async () => {
    stack = await startShopStack();
  });
  after(async () => {
    await stack?.stop();
  });

  const customerId = uniqueId('reader');
  const product = uniqueId('product');
  const orderIds = [1, 2, 3].map((n) => `${customerId}-o${n}`);

  /** What a user would look at: every summary, the active list, the customer, the stock. */
  const snapshot = async () => ({
    summaries: await Promise.all(orderIds.map((orderId) => stack.trpc.order.get.query({ orderId }))),
    active: (await stack.trpc.order.activeForCustomer.query({ customerId })).items.map((o) => o.orderId),
    customer: await stack.trpc.customer.get.query({ customerId }),
    stock: await stack.trpc.inventory.get.query({ productId: product }),
  });

  type Snapshot = Awaited<ReturnType<typeof snapshot>>;
  /** What a user reads off the models, without the timestamps. */
  const visible = ({ summaries, active, customer, stock }: Snapshot) => ({
    summaries: summaries.map(({ orderId, customerId, customerName, itemCount, total, status, shippedAt, cancelReason, version }) => ({
      orderId, customerId, customerName, itemCount, total, status, shipped: shippedAt !== null, cancelReason, version,
    })),
    active,
    customer: { customerId: customer.customerId, name: customer.name, email: customer.email, status: customer.status, version: customer.version },
    stock: { productId: stock.productId, onHand: stock.onHand, reserved: stock.reserved, available: stock.available, version: stock.version },
  });
  const versionsOf = ({ summaries, customer, stock }: Snapshot) => [...summaries.map((s) => s.version), customer.version, stock.version];
  /** The same after the first test's story, written out: three orders of one item at 2.50, one completed, one cancelled. */
  const afterTheStory = {
    summaries: [
      { orderId: orderIds[0], customerId, customerName: 'Rear Admiral Hopper', itemCount: 1, total: 2.5, status: 'completed', shipped: true, cancelReason: null, version: 3 },
      { orderId: orderIds[1], customerId, customerName: 'Rear Admiral Hopper', itemCount: 1, total: 2.5, status: 'cancelled', shipped: false, cancelReason: 'no longer needed', version: 2 },
      { orderId: orderIds[2], customerId, customerName: 'Rear Admiral Hopper', itemCount: 1, total: 2.5, status: 'created', shipped: false, cancelReason: null, version: 1 },
    ],
    active: [orderIds[2]],
    customer: { customerId, name: 'Rear Admiral Hopper', email: `${customerId}@example.com`, status: 'active', version: 2 },
    // Orders reserve no stock (only checkout does): the 7 received stay available.
    stock: { productId: product, onHand: 7, reserved: 0, available: 7, version: 1 },
  };

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
    // A page at a time: two pages of two, then none; a made-up cursor or a page over 100 is a 400.
    const first = await stack.trpc.order.activeForCustomer.query({ customerId, limit: 2 });
    assert.deepEqual(first.items.map((o) => o.orderId), [orderIds[2], orderIds[1]]);
    const second = await stack.trpc.order.activeForCustomer.query({ customerId, limit: 2, cursor: first.nextCursor! });
    assert.deepEqual([second.items.map((o) => o.orderId), second.nextCursor], [[orderIds[0]], null]);
    for (const input of [{ customerId, cursor: 'made-up' }, { customerId, limit: 101 }]) {
      const refused = await stack.trpc.order.activeForCustomer.query(input).then(() => null, (e: { data?: { code?: string } }) => e);
      assert.equal(refused?.data?.code, 'BAD_REQUEST', JSON.stringify(input));
    }

    await stack.trpc.order.ship.mutate({ orderId: orderIds[0]! });
    await stack.trpc.order.complete.mutate({ orderId: orderIds[0]!, wait: 'projected' });
    await stack.trpc.order.cancel.mutate({ orderId: orderIds[1]!, reason: 'no longer needed', wait: 'projected' });
    const settled = await snapshot();
    assert.deepEqual(settled.active, [orderIds[2]], 'completed and cancelled orders are not active');
    assert.deepEqual(settled.summaries.map((s) => s.status), ['completed', 'cancelled', 'created']);
    assert.deepEqual((await stack.trpc.order.byStatus.query({ status: 'cancelled', limit: 100 })).items.map((o) => o.orderId).filter((id) => orderIds.includes(id)), [orderIds[1]]);
  });

  it('gives the same answers after a rebuild of every projection', async () => {
    const before = await snapshot();
    const generations = Object.fromEntries((await stack.trpc.system.projections.query()).map((p) => [p.name, p.generation!]));
    for (const name of Object.keys(generations)) await stack.trpc.system.rebuild.mutate({ projection: name });
    await eventually(async () => {
      const now = await stack.trpc.system.projections.query();
      return now.every((p) => p.state === 'live' && p.generation === generations[p.name]! + 1) ? true : undefined;
    }, 120_000, 'every projection rebuilt');
    const rebuilt = await snapshot();
    assert.deepEqual(visible(rebuilt), afterTheStory);
    assert.deepEqual(rebuilt, before);
  });

  it('gives the same answers after Redis loses every key of the stack, checkpoints included', async () => {
    const before = await snapshot();
    assert.deepEqual(visible(before), afterTheStory, 'the story above, as the read models tell it');
    // The Redis is shared with other runs: the stack loses all it had there (its keys share its prefix), and nothing else.
    const [deleted, left] = (await stack.redis.eval(dropKeys, { arguments: [`${stack.settings.REDIS_PREFIX}:*`] })) as [number, number];
    assert.ok(deleted > 0, 'the stack kept its read models under its prefix');
    assert.equal(left, 0, 'no key of the stack left behind');
    console.log(`read-models: ${deleted} keys of the stack deleted, ${left} right after`);
    // Mid-rebuild some documents are back and others not yet: wait until each is at its last version.
    const after = await eventually(
      () => snapshot().then((s) => (isDeepStrictEqual(versionsOf(s), versionsOf(before)) ? s : undefined), () => undefined),
      120_000,
      'every document back at its last version',
    );
    assert.deepEqual(visible(after), afterTheStory, 'rebuilt from the log: names, statuses, totals, stock and the active list');
    assert.deepEqual(after, before, 'every field, timestamps included, as before the loss');
  });
});
