/**
 * A checkout always finishes (issue 16, item 3): cancelled or terminated while its payment is
 * open, with a compensation step refused, or with its failure report refused, it leaves no
 * reservation behind, the order and the cart in a state that says what happened, and the cart
 * never stuck in checking_out. And a process step resent under a fresh commandId is that step
 * (item 1, domain half). The gateway is made slow (under its client's 5 s timeout, so refunds get
 * through), so each checkout is caught mid-payment.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import { TRPCClientError } from '@trpc/client';
import type { CheckoutResult } from '../processes/checkout';
import { eventually, uniqueId } from 'ledgerflow/testing/stack';
import { address, registerCustomer, startShopStack, stock, type ShopStack } from './support/shop';

describe('a checkout always finishes (real services, a slow gateway)', { timeout: 480_000 }, () => {
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

  /** A customer with `quantity` of a fresh product (10 in stock) in the cart, at 10.00 each. */
  async function shopper(quantity = 2) {
    const customerId = uniqueId('user');
    const product = uniqueId('item');
    await registerCustomer(stack, customerId);
    await stock(stack, { [product]: 10 });
    await stack.trpc.cart.addItem.mutate({ cartId: customerId, itemId: product, quantity, price: 10 });
    return { customerId, product };
  }
  /** Starts the checkout and resolves once the gateway has received its charge (which it holds for `delayMs`). */
  async function checkoutMidPayment(customerId: string) {
    const started = await stack.trpc.cart.checkout.mutate({ cartId: customerId, shippingAddress: address });
    const orderId = (started.events[0]?.payload as { orderId: string }).orderId;
    await eventually(async () => stack.payments.chargeRequests.find((r) => r.idempotencyKey === orderId), 60_000, `${orderId}: charge received`);
    return { orderId, startedAt: started.version! };
  }
  /** The cart once it has left checking_out (its version moved past the checkout's). */
  const cartSettled = (cartId: string, startedAt: number) =>
    eventually(async () => {
      const cart = await stack.trpc.cart.get.query({ cartId });
      return cart.version > startedAt ? cart : undefined;
    }, 180_000, `${cartId}: out of checking_out`);
  /** The product's stock once no reservation is open on it. */
  const noReservation = (productId: string) =>
    eventually(async () => {
      const s = await stack.trpc.inventory.get.query({ productId });
      return s.reserved === 0 && s.version >= 3 ? s : undefined;
    }, 60_000, `${productId}: no reservation open`);
  const orderStatus = (orderId: string, status: string) =>
    eventually(async () => {
      const order = await stack.trpc.order.get.query({ orderId }).catch(() => undefined);
      return order?.status === status ? order : undefined;
    }, 60_000, `${orderId}: ${status}`);
  const resultOf = <T>(workflowId: string) => stack.temporal.workflow.getHandle(workflowId).result() as Promise<T>;
  /** The gateway's last word on the order's charge, once the charge it held has been answered. */
  const chargeOutcome = async (orderId: string) => {
    await eventually(async () => stack.payments.chargeRequests.filter((r) => r.idempotencyKey === orderId).every((r) => r.answered !== undefined) || undefined, 60_000, 'charge answered');
    return stack.payments.charges.get(orderId)?.status;
  };

  it('cancelled mid-payment: compensates in a non-cancellable scope — charge refunded or voided, order cancelled, stock released, cart open', async () => {
    const { customerId, product } = await shopper();
    Object.assign(stack.payments.behavior, { delayMs: 3_000 });
    const { orderId, startedAt } = await checkoutMidPayment(customerId);
    await stack.temporal.workflow.getHandle(`checkout:${orderId}`).cancel();

    const result = await resultOf<CheckoutResult>(`checkout:${orderId}`);
    assert.deepEqual([result.status, result.status === 'failed' && result.code], ['failed', 'CHECKOUT_CANCELLED']);
    const cart = await cartSettled(customerId, startedAt);
    assert.deepEqual([cart.status, cart.lastCheckoutFailure?.code], ['open', 'CHECKOUT_CANCELLED']);
    assert.deepEqual(await noReservation(product).then((s) => [s.onHand, s.reserved, s.available]), [10, 0, 10]);
    await orderStatus(orderId, 'cancelled');
    assert.notEqual(await chargeOutcome(orderId), 'captured', 'the charge that arrived after the refund was declined (voided key)');
    assert.deepEqual(await resultOf(`checkout:${orderId}:guard`), { end: 'settled' }, 'the process told its guard it finished');
  });

  it('terminated mid-payment (no workflow code runs): its guard starts the recovery, which undoes everything and opens the cart', async () => {
    const { customerId, product } = await shopper();
    Object.assign(stack.payments.behavior, { delayMs: 3_000 });
    const { orderId, startedAt } = await checkoutMidPayment(customerId);
    await stack.temporal.workflow.getHandle(`checkout:${orderId}`).terminate('an operator stopped it');

    assert.deepEqual(await resultOf(`checkout:${orderId}:guard`), { end: 'recovered', recoveryId: `checkout:${orderId}:recovery` });
    const recovered = await resultOf<CheckoutResult>(`checkout:${orderId}:recovery`);
    assert.deepEqual([recovered.status, recovered.status === 'failed' && recovered.code], ['failed', 'CHECKOUT_ABORTED']);
    const cart = await cartSettled(customerId, startedAt);
    assert.deepEqual([cart.status, cart.lastCheckoutFailure?.code], ['open', 'CHECKOUT_ABORTED']);
    assert.deepEqual(await noReservation(product).then((s) => [s.onHand, s.reserved, s.available]), [10, 0, 10]);
    await orderStatus(orderId, 'cancelled');
    assert.ok(['refunded', 'voided'].includes((await chargeOutcome(orderId))!), 'the charge is refunded (or voided before it landed)');

    // The customer checks out again, and this time it goes through.
    Object.assign(stack.payments.behavior, { delayMs: 0 });
    const again = await stack.trpc.cart.checkout.mutate({ cartId: customerId, shippingAddress: address });
    const done = await cartSettled(customerId, again.version!);
    assert.equal(done.status, 'checked_out', JSON.stringify(done.lastCheckoutFailure));
  });

  it('cancelled by its customer mid-payment: the process finds the cart no longer waiting and undoes everything', async () => {
    const { customerId, product } = await shopper();
    Object.assign(stack.payments.behavior, { delayMs: 3_000 });
    const { orderId, startedAt } = await checkoutMidPayment(customerId);
    await stack.trpc.cart.cancelCheckout.mutate({ cartId: customerId, orderId });

    const cart = await cartSettled(customerId, startedAt);
    assert.deepEqual([cart.status, cart.lastCheckoutFailure?.code], ['open', 'CHECKOUT_CANCELLED']);
    const result = await resultOf<CheckoutResult>(`checkout:${orderId}`);
    assert.equal(result.status, 'failed', 'the process did not complete a cancelled checkout');
    assert.deepEqual(result.unsettled ?? [], [], 'its failure report, after the cancel, changed nothing and was no refusal');
    assert.deepEqual(await noReservation(product).then((s) => [s.onHand, s.reserved, s.available]), [10, 0, 10]);
    await orderStatus(orderId, 'cancelled');
    assert.ok(['refunded', 'voided'].includes((await chargeOutcome(orderId))!), 'the charge is refunded (or voided before it landed)');
  });

  it('terminated the moment it started (perhaps before any step, when no guard watches it): the customer cancels, and nothing is left reserved, open or stuck', async () => {
    const { customerId, product } = await shopper();
    const started = await stack.trpc.cart.checkout.mutate({ cartId: customerId, shippingAddress: address });
    const orderId = (started.events[0]?.payload as { orderId: string }).orderId;
    const process = stack.temporal.workflow.getHandle(`checkout:${orderId}`);
    await eventually(() => process.describe().then(() => true, () => undefined), 60_000, `checkout:${orderId} started`);
    await process.terminate('terminated before it could finish');
    await stack.trpc.cart.cancelCheckout.mutate({ cartId: customerId, orderId });

    const cart = await cartSettled(customerId, started.version!);
    assert.deepEqual([cart.status, cart.lastCheckoutFailure?.orderId], ['open', orderId]);
    // A guard exists only if the process ran its first step: then its recovery undoes what was done.
    const guarded = await stack.temporal.workflow.getHandle(`checkout:${orderId}:guard`).describe().then(() => true, () => false);
    if (guarded) await resultOf(`checkout:${orderId}:recovery`);
    const stockNow = await eventually(async () => {
      const s = await stack.trpc.inventory.get.query({ productId: product });
      return s.reserved === 0 ? s : undefined;
    }, 120_000, `${product}: nothing reserved`);
    assert.deepEqual([stockNow.onHand, stockNow.available], [10, 10]);
    const order = await stack.trpc.order.get.query({ orderId }).catch(() => null);
    assert.ok(order === null || order.status === 'cancelled', `order ${orderId} is ${order?.status}`);
    // And the cart checks out again.
    const again = await stack.trpc.cart.checkout.mutate({ cartId: customerId, shippingAddress: address });
    const done = await cartSettled(customerId, again.version!);
    assert.equal(done.status, 'checked_out', JSON.stringify(done.lastCheckoutFailure));
  });

  it('a compensation step refused (the order was shipped meanwhile): the stock follows the order — committed, none left reserved — and the cart opens', async () => {
    const { customerId, product } = await shopper();
    Object.assign(stack.payments.behavior, { delayMs: 3_000, declineAboveCents: 0 });
    const { orderId, startedAt } = await checkoutMidPayment(customerId);
    await stack.trpc.order.ship.mutate({ orderId });

    const result = await resultOf<CheckoutResult>(`checkout:${orderId}`);
    assert.equal(result.status, 'failed');
    assert.match(String(result.unsettled), /order cancel: ORDER_ALREADY_SHIPPED/, 'the refused step is reported for an operator');
    const cart = await cartSettled(customerId, startedAt);
    assert.deepEqual([cart.status, cart.lastCheckoutFailure?.code], ['open', 'PAYMENT_DECLINED']);
    assert.deepEqual(await noReservation(product).then((s) => [s.onHand, s.reserved, s.available]), [8, 0, 8], 'committed: the shipped order took its stock');
    await orderStatus(orderId, 'shipped');
  });

  it('its failure report refused (the cart already left the checkout): the process still finishes, stock released, order cancelled', async () => {
    const { customerId, product } = await shopper();
    Object.assign(stack.payments.behavior, { delayMs: 3_000, declineAboveCents: 0 });
    const { orderId, startedAt } = await checkoutMidPayment(customerId);
    // Another sender (a rogue process) checks the cart out under the checkout's order while the payment is open.
    const envelope = {
      commandId: randomUUID(),
      aggregateType: 'cart',
      aggregateId: customerId,
      type: 'completeCheckout',
      payload: { orderId },
      metadata: { correlationId: randomUUID(), issuedAt: new Date().toISOString() },
    };
    const [rogue] = await stack.temporal.workflow.getHandle(`cart:${customerId}`).executeUpdate<{ status: string }[], [typeof envelope[]]>('submit', { args: [[envelope]] });
    assert.equal(rogue?.status, 'accepted');

    const result = await resultOf<CheckoutResult>(`checkout:${orderId}`);
    assert.equal(result.status, 'failed');
    assert.match(String(result.unsettled), /cart failCheckout/, 'the refused report is noted, not retried forever');
    const cart = await cartSettled(customerId, startedAt);
    assert.equal(cart.status, 'checked_out', 'the cart is where the other sender put it, not stuck in checking_out');
    assert.deepEqual(await noReservation(product).then((s) => [s.onHand, s.reserved]), [10, 0]);
    await orderStatus(orderId, 'cancelled');
  });

  it('a process step resent under a fresh commandId is that step: reserve, commit and release are accepted once, with no new events', async () => {
    const productId = uniqueId('item');
    await stock(stack, { [productId]: 5 });
    const orderId = uniqueId('order');
    const first = await stack.trpc.inventory.reserve.mutate({ productId, orderId, quantity: 2 });
    const again = await stack.trpc.inventory.reserve.mutate({ productId, orderId, quantity: 2 });
    assert.notEqual(again.commandId, first.commandId);
    assert.deepEqual([first.events.length, again.events.length, again.version], [1, 0, first.version], 'the resent reserve is the reservation');
    const committed = await stack.trpc.inventory.commit.mutate({ productId, orderId });
    const recommitted = await stack.trpc.inventory.commit.mutate({ productId, orderId, wait: 'projected' });
    assert.deepEqual([committed.events.length, recommitted.events.length, recommitted.version], [1, 0, committed.version]);
    const released = await stack.trpc.inventory.release.mutate({ productId, orderId }).then(
      () => assert.fail('a committed reservation cannot be released'),
      (error: unknown) => error as TRPCClientError<never>,
    );
    assert.equal((released.data as { domainCode?: string } | undefined)?.domainCode, 'RESERVATION_SETTLED');
    assert.deepEqual(await stack.trpc.inventory.get.query({ productId }).then((s) => [s.onHand, s.reserved]), [3, 0], 'reserved and committed once');
  });
});
