import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TRPCClientError } from '@trpc/client';
import type { AppRouter } from '../../examples/shop/ledgerflow.config';
import type { EventEnvelope } from '../../core/envelopes';
import { cartProjection } from '../../examples/shop/domain';
import { recentEventsQuery, versionQuery } from '../../workflows/definitions';
import { eventually, startTestStack, uniqueId, type TestStack } from '../support/stack';

describe('command semantics through the API', { timeout: 180_000 }, () => {
  let stack: TestStack;
  before(async () => {
    stack = await startTestStack();
  });
  after(async () => {
    await stack?.stop();
  });

  const post = async (procedure: string, input: unknown) => {
    const response = await fetch(`${stack.api!.url}/trpc/${procedure}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(input),
    });
    return { status: response.status, body: (await response.json()) as { result?: { data: Record<string, unknown> }; error?: { data: Record<string, unknown> } } };
  };
  const failure = async (call: Promise<unknown>) => {
    const error = await call.then(() => assert.fail('expected a rejection'), (e: unknown) => e);
    assert.ok(error instanceof TRPCClientError);
    return error as TRPCClientError<AppRouter>;
  };

  it('applies a commandId sent twice by a plain HTTP client once, answering the same outcome', async () => {
    const cartId = uniqueId('idem');
    const input = { cartId, itemId: 'a', quantity: 2, price: 4.5, commandId: `${cartId}-cmd-1` };
    const first = await post('cart.addItem', input);
    const second = await post('cart.addItem', input);
    assert.equal(first.status, 200);
    assert.equal(second.status, 200);
    assert.deepEqual(second.body.result!.data, first.body.result!.data);
    const cart = await stack.trpc.cart.get.query({ cartId, minVersion: 1 });
    assert.deepEqual(cart.items, [{ itemId: 'a', quantity: 2, price: 4.5 }], 'quantity 2, not 4');
    assert.equal(await stack.temporal.workflow.getHandle(`cart:${cartId}`).query(versionQuery), 1);
  });

  it('dedupes a queued (wait: none) command sent twice, and answers a later processed retry with its outcome', async () => {
    const cartId = uniqueId('queued');
    const commandId = `${cartId}-once`;
    const a = await stack.trpc.cart.addItem.mutate({ cartId, itemId: 'x', quantity: 1, price: 1, commandId, wait: 'none' });
    const b = await stack.trpc.cart.addItem.mutate({ cartId, itemId: 'x', quantity: 1, price: 1, commandId, wait: 'none' });
    assert.deepEqual([a.status, a.version, b.status], ['queued', null, 'queued']);
    const processed = await stack.trpc.cart.addItem.mutate({ cartId, itemId: 'x', quantity: 1, price: 1, commandId });
    assert.equal(processed.status, 'processed');
    assert.equal(processed.version, 1);
    const cart = await stack.trpc.cart.get.query({ cartId, minVersion: 1 });
    assert.equal(cart.items[0]!.quantity, 1);
    assert.equal(cart.version, 1);
  });

  it('decides 50 concurrent commands to one aggregate with versions 1..50', async () => {
    const cartId = uniqueId('burst');
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => stack.trpc.cart.addItem.mutate({ cartId, itemId: `item-${i}`, quantity: 1, price: 0.5 })),
    );
    assert.deepEqual(
      results.map((r) => r.version).sort((x, y) => x! - y!),
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
    const cart = await stack.trpc.cart.get.query({ cartId, minVersion: 50 });
    assert.equal(cart.totalItems, 50);
    assert.equal(cart.totalPrice, 25);
  });

  it('lets exactly one of two commands expecting the same version win; the other gets CONFLICT with both versions', async () => {
    const cartId = uniqueId('occ');
    await stack.trpc.cart.addItem.mutate({ cartId, itemId: 'a', quantity: 1, price: 1 });
    const attempts = await Promise.allSettled([
      stack.trpc.cart.changeQuantity.mutate({ cartId, itemId: 'a', quantity: 5, expectedVersion: 1 }),
      stack.trpc.cart.changeQuantity.mutate({ cartId, itemId: 'a', quantity: 9, expectedVersion: 1 }),
    ]);
    const won = attempts.filter((a) => a.status === 'fulfilled');
    const lost = attempts.filter((a): a is PromiseRejectedResult => a.status === 'rejected');
    assert.equal(won.length, 1);
    assert.equal(lost.length, 1);
    const error = lost[0]!.reason as TRPCClientError<AppRouter>;
    assert.equal(error.data?.code, 'CONFLICT');
    assert.equal(error.data?.httpStatus, 409);
    assert.deepEqual(error.data?.details, { expected: 1, actual: 2 });

    const stale = await post('cart.addItem', { cartId, itemId: 'b', quantity: 1, price: 1, expectedVersion: 0 });
    assert.equal(stale.status, 409);
    assert.deepEqual(stale.body.error!.data.details, { expected: 0, actual: 2 });
  });

  it("answers wait 'none' before deciding and wait 'projected' only once the read model has the version", async () => {
    const cartId = uniqueId('wait');
    const queued = await stack.trpc.cart.addItem.mutate({ cartId, itemId: 'a', quantity: 1, price: 1, wait: 'none' });
    assert.equal(queued.status, 'queued');
    assert.deepEqual(queued.events, []);
    const projected = await stack.trpc.cart.addItem.mutate({ cartId, itemId: 'b', quantity: 1, price: 2, wait: 'projected' });
    assert.equal(projected.version, 2);
    // No minVersion: whatever the read model holds right now must already be version 2.
    const cart = await stack.readModels.get(cartProjection, cartId);
    assert.equal(cart?.version, 2);
    assert.equal(cart?.totalPrice, 3);
  });

  it('is inspectable in the Temporal Web UI: described handlers, current details, recent events', async () => {
    const cartId = uniqueId('ui');
    await stack.trpc.cart.addItem.mutate({ cartId, itemId: 'widget', quantity: 3, price: 2.5 });
    await stack.trpc.cart.removeItem.mutate({ cartId, itemId: 'widget' });
    await stack.trpc.cart.addItem.mutate({ cartId, itemId: 'gadget', quantity: 1, price: 10 });
    const handle = stack.temporal.workflow.getHandle(`cart:${cartId}`);

    // What the Web UI shows: the workflow's metadata query.
    const metadata = (await handle.query('__temporal_workflow_metadata')) as {
      currentDetails: string;
      definition: { queryDefinitions: { name: string; description?: string }[]; signalDefinitions: { name: string; description?: string }[]; updateDefinitions: { name: string; description?: string }[] };
    };
    assert.match(metadata.currentDetails, /\*\*Cart\*\* — open, 1 item\(s\), total 10\.00/);
    assert.match(metadata.currentDetails, /\| gadget \| 1 \| 10\.00 \|/);
    const described = (defs: { name: string; description?: string }[]) => Object.fromEntries(defs.map((d) => [d.name, Boolean(d.description)]));
    assert.deepEqual(
      { state: true, version: true, snapshot: true, recentEvents: true, buffers: true },
      Object.fromEntries(Object.entries(described(metadata.definition.queryDefinitions)).filter(([n]) => !n.startsWith('__'))),
    );
    assert.deepEqual(described(metadata.definition.signalDefinitions), {}, 'commands arrive only by update, which can be refused');
    assert.deepEqual(described(metadata.definition.updateDefinitions), { submit: true });

    const recent = (await handle.query(recentEventsQuery)) as EventEnvelope[];
    assert.deepEqual(
      recent.map((e) => [e.version, e.type]),
      [
        [1, 'ItemAddedToCart'],
        [2, 'ItemRemovedFromCart'],
        [3, 'ItemAddedToCart'],
      ],
    );
    await eventually(async () => {
      const { count } = await stack.temporal.workflow.count(`AggregateType = 'cart' AND AggregateId = '${cartId}'`);
      return count === 1 ? true : undefined;
    }, 10_000, 'found by its search attributes');
  });

  it('answers 408 TIMEOUT naming the command when the read models do not catch up; a retry with its id applies nothing twice', async () => {
    const cartId = uniqueId('slow');
    await stack.projector!.stop();
    const commandId = `${cartId}-1`;
    const late = await failure(stack.trpc.cart.addItem.mutate({ cartId, itemId: 'a', quantity: 2, price: 1, commandId, wait: 'projected' }));
    assert.equal(late.data?.code, 'TIMEOUT');
    assert.equal(late.data?.httpStatus, 408);
    assert.equal(late.data?.commandId, commandId);
    assert.equal(late.data?.retryable, true);
    assert.match(late.message, /accepted at version 1/);

    stack.startProjector();
    const retried = await stack.trpc.cart.addItem.mutate({ cartId, itemId: 'a', quantity: 2, price: 1, commandId, wait: 'projected' });
    assert.equal(retried.version, 1);
    const cart = await stack.trpc.cart.get.query({ cartId });
    assert.deepEqual([cart.version, cart.items[0]?.quantity], [1, 2], 'applied once');
  });
});
