import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { CartReadModel } from '../../examples/shop/domain';
import { address } from '../support/shop';
import { eventually, startTestStack, uniqueId, type TestStack } from '../support/stack';

interface SseEvent {
  id: string | null;
  data: unknown;
}

/** Reads server-sent events from `cart.onChange` with plain fetch, as any HTTP client could. */
async function subscribeToCart(url: string, input: Record<string, unknown>, headers: Record<string, string> = {}) {
  const controller = new AbortController();
  const response = await fetch(`${url}/trpc/cart.onChange?input=${encodeURIComponent(JSON.stringify(input))}`, {
    headers: { accept: 'text/event-stream', ...headers },
    signal: controller.signal,
  });
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /text\/event-stream/);
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  const events: SseEvent[] = [];
  const pump = (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const id = /^id: ?(.*)$/m.exec(block)?.[1] ?? null;
          const data = /^data: ?(.*)$/m.exec(block)?.[1];
          const event = /^event: ?(.*)$/m.exec(block)?.[1];
          if (data !== undefined && event !== 'connected' && event !== 'ping') events.push({ id, data: JSON.parse(data) });
        }
      }
    } catch {
      // aborted
    }
  })();
  return {
    events,
    async next(count: number, timeoutMs = 10_000): Promise<SseEvent[]> {
      const deadline = Date.now() + timeoutMs;
      while (events.length < count) {
        if (Date.now() > deadline) throw new Error(`only ${events.length} of ${count} events`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return events.slice(0, count);
    },
    async close() {
      controller.abort();
      await pump;
    },
  };
}

describe('live updates: cart.onChange over server-sent events', { timeout: 120_000 }, () => {
  let stack: TestStack;
  before(async () => {
    stack = await startTestStack();
  });
  after(async () => {
    await stack?.stop();
  });

  it('sends the cart at each newer version, tracked by version, and resumes after a reconnect without going back', async () => {
    const cartId = uniqueId('live');
    await stack.trpc.cart.addItem.mutate({ cartId, itemId: 'a', quantity: 1, price: 1, wait: 'projected' });

    const first = await subscribeToCart(stack.api!.url, { cartId });
    const [initial] = await first.next(1);
    assert.equal(initial!.id, '1');
    assert.equal((initial!.data as CartReadModel).version, 1);

    await stack.trpc.cart.addItem.mutate({ cartId, itemId: 'b', quantity: 2, price: 3 });
    const [, update] = await first.next(2);
    assert.equal(update!.id, '2');
    assert.equal((update!.data as CartReadModel).totalPrice, 7);
    await first.close();

    // While disconnected the cart changes twice; the client resumes from the last id it saw.
    await stack.trpc.cart.changeQuantity.mutate({ cartId, itemId: 'b', quantity: 3 });
    await stack.trpc.cart.removeItem.mutate({ cartId, itemId: 'a', wait: 'projected' });
    const resumed = await subscribeToCart(stack.api!.url, { cartId, lastEventId: '2' });
    const [caughtUp] = await resumed.next(1);
    assert.equal(caughtUp!.id, '4');
    assert.deepEqual((caughtUp!.data as CartReadModel).items, [{ itemId: 'b', quantity: 3, price: 3 }]);
    await resumed.close();

    // Reconnecting already up to date sends nothing old.
    const current = await subscribeToCart(stack.api!.url, { cartId, lastEventId: '4' });
    await stack.trpc.cart.checkout.mutate({ cartId, shippingAddress: address });
    const [afterCheckout] = await current.next(1);
    assert.equal(afterCheckout!.id, '5');
    assert.equal((afterCheckout!.data as CartReadModel).status, 'checking_out');
    await current.close();
  });

  it('sends the cart again when a rebuild switches the generation queries read', async () => {
    const cartId = uniqueId('switch');
    await stack.trpc.cart.addItem.mutate({ cartId, itemId: 'a', quantity: 1, price: 1, wait: 'projected' });
    const before = (await stack.trpc.system.projections.query()).find((p) => p.name === 'carts')!;
    const watching = await subscribeToCart(stack.api!.url, { cartId });
    await watching.next(1);
    await stack.trpc.system.rebuild.mutate({ projection: 'carts' });
    const [, again] = await watching.next(2, 60_000);
    assert.equal(again!.id, '1', 'the same version, read from the new generation');
    // (The owner's status is refreshed each tick, so it may trail the switch a moment.)
    await eventually(async () => {
      const after = (await stack.trpc.system.projections.query()).find((p) => p.name === 'carts')!;
      return after.generation === before.generation! + 1 ? true : undefined;
    }, 30_000, 'the new generation serves');
    await watching.close();
  });
});
