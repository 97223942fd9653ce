import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WorkflowNotFoundError } from '@temporalio/client';
import { TRPCClientError } from '@trpc/client';
import type { AppRouter } from '../ledgerflow.config';
import { eventually, uniqueId } from 'ledgerflow/testing/stack';
import { address, registerCustomer, startShopStack, stock, type ShopStack } from './support/shop';

describe('cart API over HTTP (typed tRPC client, real Temporal, RabbitMQ, Redis)', { timeout: 120_000 }, () => {
  let stack: ShopStack;
  before(async () => {
    stack = await startShopStack();
  });
  after(async () => {
    await stack?.stop();
  });

  const rejectionOf = async (call: Promise<unknown>) => {
    const error = await call.then(
      () => assert.fail('expected the call to be rejected'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof TRPCClientError, `expected a TRPCClientError, got ${String(error)}`);
    return error as TRPCClientError<AppRouter>;
  };
  /** The cart's workflow as Temporal holds it (not its lagging visibility index). */
  const describeCart = (cartId: string, runId?: string) => stack.temporal.workflow.getHandle(`cart:${cartId}`, runId).describe();
  const neverStarted = (cartId: string) => assert.rejects(describeCart(cartId), WorkflowNotFoundError, `no workflow cart:${cartId}`);
  const keysNaming = async (id: string) => {
    const keys: string[] = [];
    for await (const batch of stack.redis.scanIterator({ MATCH: `${stack.settings.REDIS_PREFIX}:*${id}*`, COUNT: 500 })) keys.push(...batch);
    return keys;
  };

  it('runs the seed flow: add product-abc x1 at 19.99 to a cart, then read 1 item, total 19.99', async () => {
    const cartId = uniqueId('user-123');
    const result = await stack.trpc.cart.addItem.mutate({ cartId, itemId: 'product-abc', quantity: 1, price: 19.99 });
    assert.equal(result.aggregateId, cartId);
    assert.equal(result.status, 'processed');
    assert.equal(result.version, 1);
    assert.deepEqual(result.events, [{ type: 'ItemAddedToCart', version: 1, payload: { itemId: 'product-abc', quantity: 1, unitPriceCents: 1999 } }]);

    const cart = await stack.trpc.cart.get.query({ cartId, minVersion: result.version! });
    assert.deepEqual(cart.items, [{ itemId: 'product-abc', quantity: 1, price: 19.99 }]);
    assert.equal(cart.totalItems, 1);
    assert.equal(cart.totalPrice, 19.99);
    assert.equal(cart.status, 'open');
    assert.equal(cart.version, 1);
  });

  it('keeps money exact: 19.99 + 0.10 + 0.20 is 20.29', async () => {
    const cartId = uniqueId('cart');
    await stack.trpc.cart.addItem.mutate({ cartId, itemId: 'a', quantity: 1, price: 19.99 });
    await stack.trpc.cart.addItem.mutate({ cartId, itemId: 'b', quantity: 1, price: 0.1 });
    const last = await stack.trpc.cart.addItem.mutate({ cartId, itemId: 'c', quantity: 1, price: 0.2, wait: 'projected' });
    const cart = await stack.trpc.cart.get.query({ cartId });
    assert.equal(last.version, 3);
    assert.equal(cart.totalPrice, 20.29);
    assert.equal(cart.totalItems, 3);
  });

  it('answers bad input with BAD_REQUEST and field errors, and writes nothing', async () => {
    const cartId = uniqueId('cart');
    const cases: [string, Record<string, unknown>, string][] = [
      ['quantity 0', { cartId, itemId: 'a', quantity: 0, price: 1 }, 'quantity'],
      ['quantity 100', { cartId, itemId: 'a', quantity: 100, price: 1 }, 'quantity'],
      ['fractional quantity', { cartId, itemId: 'a', quantity: 1.5, price: 1 }, 'quantity'],
      ['negative price', { cartId, itemId: 'a', quantity: 1, price: -1 }, 'price'],
      ['three decimals', { cartId, itemId: 'a', quantity: 1, price: 1.999 }, 'price'],
      ['price as string', { cartId, itemId: 'a', quantity: 1, price: '1.00' }, 'price'],
      ['missing itemId', { cartId, quantity: 1, price: 1 }, 'itemId'],
      ['empty itemId', { cartId, itemId: '', quantity: 1, price: 1 }, 'itemId'],
      ['bad cartId', { cartId: 'no spaces allowed', itemId: 'a', quantity: 1, price: 1 }, 'cartId'],
      ['unknown field', { cartId, itemId: 'a', quantity: 1, price: 1, colour: 'red' }, ''],
    ];
    for (const [label, input, field] of cases) {
      const error = await rejectionOf(stack.trpc.cart.addItem.mutate(input as any));
      assert.equal(error.data?.code, 'BAD_REQUEST', label);
      assert.equal(error.data?.httpStatus, 400, label);
      const zodError = error.data?.zodError;
      assert.ok(zodError, `${label}: zodError present`);
      if (field) assert.ok(zodError.fieldErrors[field]?.length, `${label}: field error on ${field}: ${JSON.stringify(zodError)}`);
      else assert.ok(zodError.formErrors.length > 0, `${label}: form error: ${JSON.stringify(zodError)}`);
    }
    // Nothing reached Temporal: no workflow was ever started under the id, and no read model.
    await neverStarted(cartId);
    await assert.rejects(stack.trpc.cart.get.query({ cartId }), (e: TRPCClientError<AppRouter>) => e.data?.code === 'NOT_FOUND');
    assert.deepEqual(await keysNaming(cartId), [], 'no Redis key of the run names the cart');
  });

  it('rejects broken rules with a domain code, keeping the cart unchanged', async () => {
    const cartId = uniqueId('cart');
    const empty = await rejectionOf(stack.trpc.cart.checkout.mutate({ cartId, shippingAddress: address }));
    assert.equal(empty.data?.code, 'UNPROCESSABLE_CONTENT');
    assert.equal(empty.data?.httpStatus, 422);
    assert.equal(empty.data?.domainCode, 'CART_EMPTY');
    // The refused first command leaves no running workflow: its run ends without an event...
    const emptyRun = await eventually(async () => {
      const description = await describeCart(cartId);
      return description.status.name === 'COMPLETED' ? description : undefined;
    }, 30_000, 'the refused cart’s workflow completed');
    assert.deepEqual(await stack.temporal.workflow.getHandle(`cart:${cartId}`, emptyRun.runId).result(), { end: 'empty' });

    const added = await stack.trpc.cart.addItem.mutate({ cartId, itemId: 'a', quantity: 2, price: 5 });
    assert.equal(added.version, 1);
    // ...and the id's first accepted command starts a new run of its own.
    const reused = await describeCart(cartId);
    assert.equal(reused.status.name, 'RUNNING');
    assert.notEqual(reused.runId, emptyRun.runId, 'a new run, not the empty one reopened');
    assert.equal(reused.raw.workflowExecutionInfo?.firstRunId, reused.runId, 'started afresh, not continued from the empty run');
    const absent = await rejectionOf(stack.trpc.cart.removeItem.mutate({ cartId, itemId: 'zzz' }));
    assert.equal(absent.data?.domainCode, 'ITEM_NOT_IN_CART');
    const absentChange = await rejectionOf(stack.trpc.cart.changeQuantity.mutate({ cartId, itemId: 'zzz', quantity: 3 }));
    assert.equal(absentChange.data?.domainCode, 'ITEM_NOT_IN_CART');

    // Nothing of 'a' is in stock: the checkout process fails, releases nothing, and reopens the cart saying why.
    const started = await stack.trpc.cart.checkout.mutate({ cartId, shippingAddress: address });
    assert.equal(started.events[0]?.type, 'CheckoutStarted');
    const reopened = await eventually(async () => {
      const doc = await stack.trpc.cart.get.query({ cartId });
      return doc.status === 'open' && doc.lastCheckoutFailure ? doc : undefined;
    }, 60_000, 'the failed checkout reopened the cart');
    assert.equal(reopened.lastCheckoutFailure?.code, 'OUT_OF_STOCK');
    assert.deepEqual(reopened.items, [{ itemId: 'a', quantity: 2, price: 5 }], 'the lines are kept for another try');
  });

  it('answers NOT_FOUND for a cart that never existed', async () => {
    const cartId = uniqueId('nobody');
    const error = await rejectionOf(stack.trpc.cart.get.query({ cartId }));
    assert.equal(error.data?.code, 'NOT_FOUND');
    assert.equal(error.data?.httpStatus, 404);
    await neverStarted(cartId); // a query reads Redis only: it starts nothing in Temporal
  });

  it('speaks plain JSON to any HTTP client', async () => {
    const cartId = uniqueId('curl');
    const post = await fetch(`${stack.url}/trpc/cart.addItem`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ cartId, itemId: 'product-abc', quantity: 1, price: 19.99, wait: 'projected' }),
    });
    assert.equal(post.status, 200);
    const body = (await post.json()) as { result: { data: { version: number } } };
    assert.equal(body.result.data.version, 1);

    const get = await fetch(`${stack.url}/trpc/cart.get?input=${encodeURIComponent(JSON.stringify({ cartId }))}`);
    assert.equal(get.status, 200);
    const cart = (await get.json()) as { result: { data: { totalPrice: number; items: unknown[] } } };
    assert.equal(cart.result.data.totalPrice, 19.99);

    const malformed = await fetch(`${stack.url}/trpc/cart.addItem`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"cartId": ',
    });
    assert.equal(malformed.status, 400);

    const health = await fetch(`${stack.url}/health`);
    assert.equal(health.status, 200);
    const report = (await health.json()) as { ok: boolean; checks: Record<string, { ok: boolean }> };
    assert.deepEqual(
      Object.fromEntries(Object.entries(report.checks).map(([name, check]) => [name, check.ok])),
      { temporal: true, redis: true, rabbitmq: true },
    );
  });

  it('lists open carts by when they last changed, from a sorted index the projection keeps', async () => {
    const [older, newer, done] = [uniqueId('idx'), uniqueId('idx'), uniqueId('idx')];
    await stack.trpc.cart.addItem.mutate({ cartId: older, itemId: 'a', quantity: 1, price: 1, wait: 'projected' });
    await stack.trpc.cart.addItem.mutate({ cartId: done, itemId: 'a', quantity: 1, price: 1, wait: 'projected' });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const cutoff = new Date().toISOString();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await stack.trpc.cart.addItem.mutate({ cartId: newer, itemId: 'a', quantity: 1, price: 1, wait: 'projected' });
    // `done` checks out for real: its customer exists and the product is in stock.
    await registerCustomer(stack, done);
    await stock(stack, { a: 1 });
    await stack.trpc.cart.checkout.mutate({ cartId: done, shippingAddress: address });
    await eventually(async () => ((await stack.trpc.cart.get.query({ cartId: done })).status === 'checked_out' ? true : undefined), 60_000, 'checked out');

    const ours = (carts: { cartId: string }[]) => carts.map((c) => c.cartId).filter((id) => [older, newer, done].includes(id));
    assert.deepEqual(ours((await stack.trpc.cart.listOpen.query({ limit: 100 })).items), [older, newer], 'checked-out carts leave the index');
    assert.deepEqual(ours((await stack.trpc.cart.listOpen.query({ updatedBefore: cutoff, limit: 100 })).items), [older]);
    const invalid = await rejectionOf(stack.trpc.cart.listOpen.query({ updatedBefore: 'yesterday' }));
    assert.equal(invalid.data?.code, 'BAD_REQUEST');
  });
});
