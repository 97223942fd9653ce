/**
 * The reference domain's story through the typed tRPC client: a customer checks out a cart,
 * the checkout process reserves stock, creates the order, charges the payment and commits —
 * or compensates, leaving no reservation behind and telling the cart why.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { TRPCClientError } from '@trpc/client';
import type { AppRouter } from '../ledgerflow.config';
import type { CartReadModel } from '../domain';
import { eventually, uniqueId } from 'ledgerflow/testing/stack';
import { address, registerCustomer, startShopStack, stock, type ShopStack } from './support/shop';

describe('checkout as a process (typed client, real services)', { timeout: 480_000 }, () => {
  let stack: ShopStack;
  before(async () => {
    stack = await startShopStack();
  });
  after(async () => {
    await stack?.stop();
  });
  beforeEach(() => {
    Object.assign(stack.payments.behavior, { declineAboveCents: 100_000, delayMs: 0, failNext: 0 });
  });

  /**
   * The cart once its checkout process has ended (checked out, or open again with the reason):
   * the process answers with one more command, so the cart moves past the checkout's version.
   */
  const checkout = async (cartId: string) => {
    const started = await stack.trpc.cart.checkout.mutate({ cartId, shippingAddress: address });
    assert.equal(started.events[0]?.type, 'CheckoutStarted');
    return eventually(async () => {
      const now = await stack.trpc.cart.get.query({ cartId });
      return now.version > started.version! ? now : undefined;
    }, 90_000, `${cartId}: checkout settled`);
  };
  /** A product's stock once it reached `version` (the process's commands are projected a moment after). */
  const stockOf = (productId: string) => stack.trpc.inventory.get.query({ productId });
  /**
   * Everything the gateway charged this customer, under any idempotency key: a second charge
   * under another key would show here (the gateway keeps one charge per key, so a filter on one
   * key could never see it). Declined attempts are listed too, with their status.
   */
  const chargesOf = (customerId: string) =>
    [...stack.payments.charges.values()].filter((c) => c.customerId === customerId).map((c) => [c.idempotencyKey, c.status, c.amountCents]);
  const processOf = async (orderId: string) => {
    const found = [];
    for await (const w of stack.temporal.workflow.list({ query: `ProcessType = 'checkout' AND LinkedAggregates = 'order:${orderId}'` })) found.push(w);
    return found;
  };
  /** The checkout process of `orderId` once it has completed (it reports to its guard after its last step). */
  const completedProcess = (orderId: string) =>
    eventually(async () => (await processOf(orderId)).find((w) => w.workflowId === `checkout:${orderId}` && w.status.name === 'COMPLETED'), 30_000, `checkout:${orderId} completed`);
  const failure = async (call: Promise<unknown>) => {
    const error = await call.then(() => assert.fail('expected a rejection'), (e: unknown) => e);
    assert.ok(error instanceof TRPCClientError, String(error));
    return error as TRPCClientError<AppRouter>;
  };
  /** A customer whose cart holds these lines, the products stocked as given. */
  async function shopper(lines: { product: string; quantity: number; price: number }[], stocked: Record<string, number>) {
    const customerId = uniqueId('user');
    await registerCustomer(stack, customerId);
    await stock(stack, stocked);
    for (const line of lines) await stack.trpc.cart.addItem.mutate({ cartId: customerId, itemId: line.product, quantity: line.quantity, price: line.price });
    return customerId;
  }

  it('checks out: reserves and commits stock, creates and pays the order, and the order appears in activeForCustomer', async () => {
    const [book, pen] = [uniqueId('book'), uniqueId('pen')];
    const customerId = await shopper(
      [
        { product: book, quantity: 2, price: 10 },
        { product: pen, quantity: 1, price: 5.5 },
      ],
      { [book]: 5, [pen]: 3 },
    );
    const cart = await checkout(customerId);
    assert.equal(cart.status, 'checked_out', JSON.stringify(cart.lastCheckoutFailure));
    const orderId = cart.orderId!;
    assert.equal(orderId, `${customerId}.1`);

    const order = await eventually(() => stack.trpc.order.get.query({ orderId }).catch(() => undefined), 30_000, 'order summary');
    assert.deepEqual([order.customerId, order.customerName, order.status, order.itemCount, order.total], [customerId, 'Ada Lovelace', 'created', 3, 25.5]);
    const active = await stack.trpc.order.activeForCustomer.query({ customerId });
    assert.deepEqual(active.items.map((o) => o.orderId), [orderId]);
    // The reservations are committed one after the other once the cart took the checkout.
    for (const product of [book, pen]) await eventually(async () => ((await stockOf(product)).version === 3 ? true : undefined), 30_000, `${product}: stock committed`);
    assert.deepEqual(await stockOf(book).then((s) => [s.onHand, s.reserved, s.available]), [3, 0, 3]);
    assert.deepEqual(await stockOf(pen).then((s) => [s.onHand, s.reserved, s.available]), [2, 0, 2]);
    assert.deepEqual(chargesOf(customerId), [[orderId, 'captured', 2550]], 'one charge for this customer, the paid order\'s');
    // The process is a workflow of its own, found in the Web UI by the aggregates it touched.
    await completedProcess(orderId);

    // Shipping and completing the order take it out of the customer's active orders.
    await stack.trpc.order.ship.mutate({ orderId });
    await stack.trpc.order.complete.mutate({ orderId, wait: 'projected' });
    assert.deepEqual((await stack.trpc.order.activeForCustomer.query({ customerId })).items, []);
    const done = await stack.trpc.order.get.query({ orderId });
    assert.equal(done.status, 'completed');
    assert.ok(done.shippedAt);
  });

  it('fails on a stock-out: releases what it reserved, creates no order, charges nothing, and tells the cart', async () => {
    const [plenty, scarce] = [uniqueId('plenty'), uniqueId('scarce')];
    const customerId = await shopper(
      [
        { product: plenty, quantity: 1, price: 2 },
        { product: scarce, quantity: 2, price: 3 },
      ],
      { [plenty]: 10, [scarce]: 1 },
    );
    const cart = await checkout(customerId);
    assert.equal(cart.status, 'open');
    assert.equal(cart.lastCheckoutFailure?.code, 'OUT_OF_STOCK');
    assert.match(cart.lastCheckoutFailure!.reason, new RegExp(scarce));
    const orderId = cart.lastCheckoutFailure!.orderId;
    for (const product of [plenty, scarce]) {
      const s = await eventually(async () => {
        const current = await stockOf(product);
        return current.reserved === 0 ? current : undefined;
      }, 30_000, `${product}: no reservation left`);
      assert.equal(s.available, s.onHand);
    }
    assert.deepEqual(await stockOf(plenty).then((s) => [s.onHand, s.reserved]), [10, 0]);
    await assert.rejects(stack.trpc.order.get.query({ orderId }), (e: TRPCClientError<AppRouter>) => e.data?.code === 'NOT_FOUND');
    assert.deepEqual(chargesOf(customerId), [], 'nothing charged to this customer');
  });

  it('fails on a declined payment: cancels the order and releases the stock; the customer fixes the cart and checks out again', async () => {
    const item = uniqueId('tv');
    const customerId = await shopper([{ product: item, quantity: 2, price: 400 }], { [item]: 5 });
    stack.payments.behavior.declineAboveCents = 50_000; // 500.00
    const cart = await checkout(customerId);
    assert.equal(cart.lastCheckoutFailure?.code, 'PAYMENT_DECLINED');
    const declinedOrder = cart.lastCheckoutFailure!.orderId;
    const cancelled = await eventually(async () => {
      const o = await stack.trpc.order.get.query({ orderId: declinedOrder }).catch(() => undefined);
      return o?.status === 'cancelled' ? o : undefined;
    }, 30_000, 'order cancelled');
    assert.match(cancelled.cancelReason ?? '', /PAYMENT_DECLINED/);
    assert.deepEqual((await stack.trpc.order.activeForCustomer.query({ customerId })).items, [], 'a cancelled order is not active');
    await eventually(async () => ((await stockOf(item)).reserved === 0 ? true : undefined), 30_000, 'reservation released');
    assert.deepEqual(await stockOf(item).then((s) => [s.onHand, s.available]), [5, 5]);

    // Fixed: one instead of two, under the limit. The same cart checks out for a new order.
    await stack.trpc.cart.changeQuantity.mutate({ cartId: customerId, itemId: item, quantity: 1 });
    const retried: CartReadModel = await checkout(customerId);
    assert.equal(retried.status, 'checked_out', JSON.stringify(retried.lastCheckoutFailure));
    assert.equal(retried.orderId, `${customerId}.2`);
    await eventually(async () => ((await stockOf(item)).onHand === 4 ? true : undefined), 30_000, 'one committed');
    // The declined attempt is on record as declined (nothing captured for the cancelled order), and the paid order was charged once.
    assert.deepEqual(chargesOf(customerId), [
      [declinedOrder, 'declined', 80_000],
      [`${customerId}.2`, 'captured', 40_000],
    ]);
  });

  it('refuses an order for an inactive or unknown customer with its code, through the API and through checkout', async () => {
    const item = uniqueId('mug');
    const inactive = await shopper([{ product: item, quantity: 1, price: 8 }], { [item]: 3 });
    await stack.trpc.customer.deactivate.mutate({ customerId: inactive });
    const direct = await failure(stack.trpc.order.create.mutate({ orderId: uniqueId('o'), customerId: inactive, items: [{ itemId: item, quantity: 1, price: 8 }], shippingAddress: address }));
    assert.deepEqual([direct.data?.code, direct.data?.domainCode, direct.message], ['UNPROCESSABLE_CONTENT', 'CUSTOMER_INACTIVE', 'Customer is inactive']);
    const unknown = await failure(stack.trpc.order.create.mutate({ orderId: uniqueId('o'), customerId: uniqueId('nobody'), items: [{ itemId: item, quantity: 1, price: 8 }], shippingAddress: address }));
    assert.equal(unknown.data?.domainCode, 'CUSTOMER_NOT_FOUND');

    assert.equal((await checkout(inactive)).lastCheckoutFailure?.code, 'CUSTOMER_INACTIVE');
    await eventually(async () => ((await stockOf(item)).reserved === 0 ? true : undefined), 30_000, 'reservation released');

    // A cart whose customer never registered.
    const stranger = uniqueId('stranger');
    await stack.trpc.cart.addItem.mutate({ cartId: stranger, itemId: item, quantity: 1, price: 8 });
    assert.equal((await checkout(stranger)).lastCheckoutFailure?.code, 'CUSTOMER_NOT_FOUND');
    await eventually(async () => ((await stockOf(item)).reserved === 0 ? true : undefined), 30_000, 'reservation released');
    assert.equal((await stockOf(item)).onHand, 3);
    assert.deepEqual([chargesOf(inactive), chargesOf(stranger)], [[], []], 'no charge for a refused customer');
  });

  it('rides out a failing gateway and a worker SIGKILLed while its charge is open: paid once, stock committed once; the cart is locked meanwhile', async (t) => {
    const item = uniqueId('lamp');
    const customerId = await shopper([{ product: item, quantity: 1, price: 30 }], { [item]: 2 });
    // From here the only worker is a process of its own (`ledgerflow worker`), which the test can crash.
    await stack.stopWorker();
    let worker = await stack.spawnWorker();
    try {
      // Two 503s first (the process retries them), then a charge that takes its time.
      Object.assign(stack.payments.behavior, { delayMs: 3000, failNext: 2 });
      const started = await stack.trpc.cart.checkout.mutate({ cartId: customerId, shippingAddress: address });
      const orderId = (started.events[0]?.payload as { orderId: string }).orderId;
      const locked = await failure(stack.trpc.cart.addItem.mutate({ cartId: customerId, itemId: 'extra', quantity: 1, price: 1 }));
      assert.equal(locked.data?.domainCode, 'CHECKOUT_IN_PROGRESS');

      // The worker dies (SIGKILL: no drain) once the gateway has received the charge that will go through, before it answers.
      const requests = () => stack.payments.chargeRequests.filter((r) => r.idempotencyKey === orderId);
      const open = await eventually(async () => requests()[2], 120_000, 'the third charge request received');
      assert.deepEqual(requests().slice(0, 2).map((r) => r.answered), [503, 503], 'the first two attempts were refused (the failing gateway)');
      assert.equal(open.answered, undefined, 'the charge is open when the worker is killed');
      await worker.kill('SIGKILL');
      const sentBeforeKill = requests().length;
      const inFlightAnswer = await eventually(async () => open.answered, 30_000, 'the gateway answered the open charge');
      assert.equal(inFlightAnswer, 201, 'the gateway captured the open charge, with no worker alive to hear it');

      // A new worker takes over: the charge activity's attempt timed out with its worker, so it is sent again, same key.
      worker = await stack.spawnWorker();
      const cart = await eventually(async () => {
        const now = await stack.trpc.cart.get.query({ cartId: customerId });
        return now.version > started.version! ? now : undefined;
      }, 180_000, 'checkout settled');
      assert.equal(cart.status, 'checked_out', JSON.stringify(cart.lastCheckoutFailure));
      assert.equal(cart.orderId, orderId);
      assert.deepEqual(chargesOf(customerId), [[orderId, 'captured', 3000]], 'charged once, across every key for this customer');
      const resent = requests().slice(sentBeforeKill);
      assert.ok(resent.length >= 1, 'the new worker sent the open charge again');
      assert.deepEqual(resent.map((r) => r.answered), resent.map(() => 200), 'answered with the charge already made (same key), not charged anew');
      const order = await eventually(() => stack.trpc.order.get.query({ orderId }).catch(() => undefined), 30_000, 'order summary');
      assert.deepEqual([order.status, order.total], ['created', 30]);
      await eventually(async () => ((await stockOf(item)).onHand === 1 ? true : undefined), 30_000, 'committed once');
      assert.deepEqual(await stockOf(item).then((s) => [s.onHand, s.reserved, s.version]), [1, 0, 3], 'one reservation, committed once');
      await completedProcess(orderId);
      t.diagnostic(`charge requests for ${orderId}: ${requests().map((r) => r.answered).join(', ')} (the open one answered ${inFlightAnswer} after the kill; ${resent.length} sent by the new worker)`);
    } finally {
      await worker.kill('SIGTERM');
      await stack.startWorker();
    }
  });
});
