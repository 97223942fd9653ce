import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MessageOf } from 'ledgerflow';
import { cart, cartCommands, cartEvents, cartLimits, type CartState } from '../domain/cart';
import { cartProjection, type CartReadModel } from '../domain/cart/projection';
import { deciderSpec, defaultContext } from 'ledgerflow/testing';

type CartEvent = MessageOf<typeof cartEvents>;
type CartCommand = MessageOf<typeof cartCommands>;

const { given, stateAfter } = deciderSpec(cart);

const added = (itemId: string, quantity: number, unitPriceCents: number): CartEvent => ({
  type: 'ItemAddedToCart',
  payload: { itemId, quantity, unitPriceCents },
});
const removed = (itemId: string): CartEvent => ({ type: 'ItemRemovedFromCart', payload: { itemId } });
const quantityChanged = (itemId: string, quantity: number): CartEvent => ({ type: 'ItemQuantityChanged', payload: { itemId, quantity } });
const address = { line1: '1 Main St', city: 'Berlin', postalCode: '10115', country: 'DE' };
const line = (itemId: string, quantity: number, unitPriceCents: number) => ({ itemId, quantity, unitPriceCents });
const started = (orderId: string, lines: ReturnType<typeof line>[], totalCents: number): CartEvent => ({
  type: 'CheckoutStarted',
  payload: { orderId, lines, totalCents, shippingAddress: address },
});
const failed = (orderId: string, code: string, reason: string): CartEvent => ({ type: 'CheckoutFailed', payload: { orderId, code, reason } });
const checkedOut = (totalItems: number, totalCents: number, orderId = 'agg-1.1'): CartEvent => ({ type: 'CartCheckedOut', payload: { totalItems, totalCents, orderId } });

const addItem = (itemId: string, quantity: number, price: number): CartCommand => ({ type: 'addItem', payload: { itemId, quantity, price } });
const removeItem = (itemId: string): CartCommand => ({ type: 'removeItem', payload: { itemId } });
const changeQuantity = (itemId: string, quantity: number): CartCommand => ({ type: 'changeQuantity', payload: { itemId, quantity } });
const checkout: CartCommand = { type: 'checkout', payload: { shippingAddress: address } };
const complete = (orderId: string): CartCommand => ({ type: 'completeCheckout', payload: { orderId } });
const fail = (orderId: string, code: string, reason: string): CartCommand => ({ type: 'failCheckout', payload: { orderId, code, reason } });

describe('cart decider', () => {
  describe('empty cart', () => {
    it('adds a new item, converting the price to cents', () => {
      given().when(addItem('apple', 2, 19.99)).then([added('apple', 2, 1999)]);
    });

    it('accepts up to 99 of one item at once', () => {
      given().when(addItem('apple', 99, 1)).then([added('apple', 99, 100)]);
    });

    it('rejects removing an item with ITEM_NOT_IN_CART', () => {
      given().when(removeItem('apple')).thenRejects('ITEM_NOT_IN_CART');
    });

    it('rejects changing the quantity of an item with ITEM_NOT_IN_CART', () => {
      given().when(changeQuantity('apple', 3)).thenRejects('ITEM_NOT_IN_CART');
    });

    it('rejects checkout with CART_EMPTY', () => {
      given().when(checkout).thenRejects('CART_EMPTY');
    });

    it('rejects checkout with CART_EMPTY once every item was removed', () => {
      given(added('apple', 1, 100), removed('apple')).when(checkout).thenRejects('CART_EMPTY');
    });

    it('is open and not terminal', () => {
      const state = given().state();
      assert.deepEqual(state, { status: 'open', items: [] });
      assert.equal(cart.isTerminal(state), false);
    });
  });

  describe('cart with items', () => {
    const apple = added('apple', 2, 1999);

    it('adds a different item as a new line', () => {
      given(apple).when(addItem('pear', 1, 0.5)).then([added('pear', 1, 50)]);
    });

    it('adds the same item at the same price, raising its quantity', () => {
      given(apple).when(addItem('apple', 3, 19.99)).then([added('apple', 3, 1999)]);
      assert.deepEqual(given(apple, added('apple', 3, 1999)).state().items, [{ itemId: 'apple', quantity: 5, unitPriceCents: 1999 }]);
    });

    it('rejects the same item at a different price with PRICE_MISMATCH', () => {
      given(apple).when(addItem('apple', 1, 18.99)).thenRejects('PRICE_MISMATCH');
    });

    it('rejects a price that differs by one cent with PRICE_MISMATCH', () => {
      given(apple).when(addItem('apple', 1, 20)).thenRejects('PRICE_MISMATCH');
    });

    it('accepts an item at a new price after it was removed', () => {
      given(apple, removed('apple')).when(addItem('apple', 1, 5)).then([added('apple', 1, 500)]);
    });

    it('accepts the same item up to exactly 99 in total', () => {
      given(added('apple', 60, 100)).when(addItem('apple', 39, 1)).then([added('apple', 39, 100)]);
    });

    it('rejects the same item beyond 99 in total with QUANTITY_LIMIT', () => {
      given(added('apple', 60, 100)).when(addItem('apple', 40, 1)).thenRejects('QUANTITY_LIMIT');
    });

    it('counts quantity changes towards the 99 limit', () => {
      given(added('apple', 1, 100), quantityChanged('apple', 98)).when(addItem('apple', 2, 1)).thenRejects('QUANTITY_LIMIT');
    });

    it('limits each item on its own, not the cart as a whole', () => {
      given(added('apple', 99, 100)).when(addItem('pear', 99, 1)).then([added('pear', 99, 100)]);
    });

    describe(`a full cart (${cartLimits.maxLines} different items)`, () => {
      const full = Array.from({ length: cartLimits.maxLines }, (_, i) => added(`item-${i}`, 1, 100));

      it('rejects a new item with CART_FULL', () => {
        given(...full).when(addItem('one-more', 1, 1)).thenRejects('CART_FULL');
      });

      it('still takes more of an item it holds', () => {
        given(...full).when(addItem('item-7', 2, 1)).then([added('item-7', 2, 100)]);
      });

      it('takes a new item again once one was removed', () => {
        given(...full, removed('item-0')).when(addItem('one-more', 1, 1)).then([added('one-more', 1, 100)]);
      });
    });

    it('removes an item that is in the cart', () => {
      given(apple).when(removeItem('apple')).then([removed('apple')]);
      assert.deepEqual(given(apple, removed('apple')).state().items, []);
    });

    it('removes only the named item', () => {
      assert.deepEqual(given(apple, added('pear', 1, 50), removed('apple')).state().items, [{ itemId: 'pear', quantity: 1, unitPriceCents: 50 }]);
    });

    it('rejects removing an item that is not in the cart with ITEM_NOT_IN_CART', () => {
      given(apple).when(removeItem('pear')).thenRejects('ITEM_NOT_IN_CART');
    });

    it('changes the quantity of an item that is in the cart', () => {
      given(apple).when(changeQuantity('apple', 7)).then([quantityChanged('apple', 7)]);
      assert.deepEqual(given(apple, quantityChanged('apple', 7)).state().items, [{ itemId: 'apple', quantity: 7, unitPriceCents: 1999 }]);
    });

    it('rejects changing the quantity of an item that is not in the cart with ITEM_NOT_IN_CART', () => {
      given(apple).when(changeQuantity('pear', 1)).thenRejects('ITEM_NOT_IN_CART');
    });

    it('decides nothing when the quantity is already the one asked for', () => {
      given(apple).when(changeQuantity('apple', 2)).thenNothingHappens();
    });

    it('starts a checkout of its lines with the exact total in cents, for an order id of its own', () => {
      given(apple, added('pear', 3, 10))
        .when(checkout)
        .then([started('agg-1.1', [line('apple', 2, 1999), line('pear', 3, 10)], 2 * 1999 + 3 * 10)]);
    });

    it('checks out lines and totals that reflect removals and quantity changes', () => {
      given(apple, added('pear', 3, 10), quantityChanged('apple', 1), added('plum', 4, 25), removed('pear'))
        .when(checkout)
        .then([started('agg-1.1', [line('apple', 1, 1999), line('plum', 4, 25)], 1999 + 100)]);
    });

    it('takes no checkout answers for a checkout it did not start (CHECKOUT_MISMATCH)', () => {
      given(apple).when(complete('agg-1.1')).thenRejects('CHECKOUT_MISMATCH');
      given(apple).when(fail('agg-1.1', 'X', 'y')).thenRejects('CHECKOUT_MISMATCH');
    });

    it('is open and not terminal', () => {
      assert.equal(cart.isTerminal(given(apple).state()), false);
    });

    it('describes its lines and total for the Web UI', () => {
      assert.equal(
        cart.describe(given(apple, added('pear', 3, 10)).state()),
        [
          '**Cart** — open, 5 item(s), total 40.28',
          '',
          '| item | qty | price |',
          '|---|---:|---:|',
          '| apple | 2 | 19.99 |',
          '| pear | 3 | 0.10 |',
        ].join('\n'),
      );
    });
  });

  describe('checking-out cart', () => {
    const history = [added('apple', 2, 1999), started('agg-1.1', [line('apple', 2, 1999)], 3998)];

    it('takes no changes while the checkout runs (CHECKOUT_IN_PROGRESS)', () => {
      given(...history).when(addItem('pear', 1, 1)).thenRejects('CHECKOUT_IN_PROGRESS');
      given(...history).when(removeItem('apple')).thenRejects('CHECKOUT_IN_PROGRESS');
      given(...history).when(checkout).thenRejects('CHECKOUT_IN_PROGRESS');
    });

    it('is checked out when its process completes the checkout', () => {
      given(...history).when(complete('agg-1.1')).then([checkedOut(2, 3998, 'agg-1.1')]);
    });

    it('takes no answer for another order (CHECKOUT_MISMATCH)', () => {
      given(...history).when(complete('agg-1.2')).thenRejects('CHECKOUT_MISMATCH');
    });

    it('opens again when the checkout failed, remembering why, and checks out again for a new order', () => {
      given(...history).when(fail('agg-1.1', 'OUT_OF_STOCK', 'apple: only 1 available')).then([failed('agg-1.1', 'OUT_OF_STOCK', 'apple: only 1 available')]);
      const reopened = [...history, failed('agg-1.1', 'OUT_OF_STOCK', 'apple: only 1 available')];
      const state = given(...reopened).state();
      assert.equal(state.status, 'open');
      assert.deepEqual(state.lastCheckoutFailure, { orderId: 'agg-1.1', code: 'OUT_OF_STOCK', reason: 'apple: only 1 available' });
      given(...reopened).when(changeQuantity('apple', 1)).then([quantityChanged('apple', 1)]);
      given(...reopened, quantityChanged('apple', 1)).when(checkout).then([started('agg-1.2', [line('apple', 1, 1999)], 1999)]);
    });

    it('takes a failure reported again for the failed checkout as that failure: accepted, no new events (the process resent it, or its recovery did)', () => {
      const reopened = [...history, failed('agg-1.1', 'OUT_OF_STOCK', 'apple: only 1 available')];
      given(...reopened).when(fail('agg-1.1', 'CHECKOUT_ABORTED', 'the checkout process ended before it finished')).then([]);
      given(...reopened, started('agg-1.2', [line('apple', 2, 1999)], 3998)).when(fail('agg-1.1', 'OUT_OF_STOCK', 'again')).then([]);
      given(...reopened).when(complete('agg-1.1')).thenRejects('CHECKOUT_MISMATCH');
    });

    it('is cancelled by its customer whatever became of its process: open again, and the process\'s answers after it change nothing', () => {
      const cancel = (orderId: string): CartCommand => ({ type: 'cancelCheckout', payload: { orderId } });
      given(...history).when(cancel('agg-1.1')).then([failed('agg-1.1', 'CHECKOUT_CANCELLED', 'cancelled by the customer')]);
      given(...history).when(cancel('agg-1.2')).thenRejects('CHECKOUT_MISMATCH');
      given(added('apple', 2, 1999)).when(cancel('agg-1.1')).thenRejects('CHECKOUT_MISMATCH');
      const cancelled = [...history, failed('agg-1.1', 'CHECKOUT_CANCELLED', 'cancelled by the customer')];
      assert.equal(given(...cancelled).state().status, 'open');
      given(...cancelled).when(cancel('agg-1.1')).then([]);
      given(...cancelled).when(complete('agg-1.1')).thenRejects('CHECKOUT_MISMATCH');
      given(...cancelled).when(fail('agg-1.1', 'CHECKOUT_MISMATCH', 'the cart no longer waited')).then([]);
    });

    it('starts the checkout process once, under an id derived from its order', () => {
      const start = cart.processes.CheckoutStarted!({
        aggregateId: 'user-1',
        version: 2,
        type: 'CheckoutStarted',
        payload: { orderId: 'user-1.1', lines: [line('apple', 2, 1999)], totalCents: 3998, shippingAddress: address },
        correlationId: 'corr',
      });
      assert.deepEqual(start, {
        workflowType: 'checkoutProcess',
        workflowId: 'checkout:user-1.1',
        input: { cartId: 'user-1', customerId: 'user-1', orderId: 'user-1.1', lines: [line('apple', 2, 1999)], totalCents: 3998, shippingAddress: address, correlationId: 'corr' },
      });
    });

    it('offers its process-only commands to processes alone', () => {
      assert.deepEqual([...cart.internalCommands], ['completeCheckout', 'failCheckout']);
    });
  });

  describe('checked-out cart', () => {
    const history = [added('apple', 2, 1999), started('agg-1.1', [line('apple', 2, 1999)], 3998), checkedOut(2, 3998)];

    it('is terminal after CartCheckedOut', () => {
      assert.equal(cart.isTerminal(given(...history).state()), true);
    });

    it('keeps its lines and moves to checkedOut', () => {
      const expected: CartState = { status: 'checkedOut', items: [{ itemId: 'apple', quantity: 2, unitPriceCents: 1999 }], checkouts: 1 };
      assert.deepEqual(given(...history).state(), expected);
    });

    it('describes itself as checked out', () => {
      assert.match(cart.describe(given(...history).state()), /^\*\*Cart\*\* — checked out, 2 item\(s\), total 39\.98\n/);
    });

    it('does not mutate the state it evolves from', () => {
      const before = given(history[0]!).state();
      const snapshot = structuredClone(before);
      cart.evolve(before, history[1]!);
      cart.evolve(before, added('apple', 1, 1999));
      assert.deepEqual(before, snapshot);
    });
  });
});

describe('cart addItem payload validation', () => {
  const valid = { itemId: 'apple', quantity: 1, price: 1 };
  const rejected: [string, Record<string, unknown>, string][] = [
    ['quantity 0', { ...valid, quantity: 0 }, 'quantity'],
    ['quantity 100', { ...valid, quantity: 100 }, 'quantity'],
    ['quantity 1.5', { ...valid, quantity: 1.5 }, 'quantity'],
    ['price -1', { ...valid, price: -1 }, 'price'],
    ['price 0', { ...valid, price: 0 }, 'price'],
    ['price 1.999', { ...valid, price: 1.999 }, 'price'],
    ['an empty itemId', { ...valid, itemId: '' }, 'itemId'],
    ['a blank itemId', { ...valid, itemId: '   ' }, 'itemId'],
  ];

  for (const [name, payload, field] of rejected) {
    it(`rejects ${name}`, () => {
      const result = cartCommands.addItem.safeParse(payload);
      assert.equal(result.success, false);
      assert.deepEqual(
        result.error?.issues.map((issue) => issue.path),
        [[field]],
      );
    });
  }

  it('rejects unknown fields', () => {
    assert.equal(cartCommands.addItem.safeParse({ ...valid, discount: 5 }).success, false);
  });

  for (const price of [19.99, 0.1, 0.2, 1, 99.5]) {
    it(`accepts price ${price}`, () => {
      const result = cartCommands.addItem.safeParse({ ...valid, price });
      assert.equal(result.success, true);
      assert.deepEqual(result.data, { ...valid, price });
    });
  }

  it('accepts quantities 1 and 99', () => {
    assert.equal(cartCommands.addItem.safeParse({ ...valid, quantity: 1 }).success, true);
    assert.equal(cartCommands.addItem.safeParse({ ...valid, quantity: 99 }).success, true);
  });

  it('trims the itemId', () => {
    assert.equal(cartCommands.addItem.parse({ ...valid, itemId: '  apple ' }).itemId, 'apple');
  });
});

const envelope = (event: CartEvent, version: number, cartId = 'cart-1') => ({
  ...event,
  eventId: `cart:${cartId}:${version}`,
  aggregateType: 'cart',
  aggregateId: cartId,
  version,
  schemaVersion: 1,
  occurredAt: `2024-05-01T10:00:0${version}.000Z`,
  commandId: `cmd-${version}`,
  correlationId: 'corr-1',
  causationId: `cmd-${version}`,
}) as Parameters<typeof cartProjection.evolve>[1];

const project = (events: readonly CartEvent[]): CartReadModel | null =>
  events.reduce<CartReadModel | null>((doc, event, index) => cartProjection.evolve(doc, envelope(event, index + 1)), null);

describe('cart money', () => {
  const commands = [addItem('a', 1, 19.99), addItem('b', 1, 0.1), addItem('c', 1, 0.2)];
  const events = commands.reduce<CartEvent[]>((history, command) => [...history, ...cart.decide(stateAfter(history), command, defaultContext)], []);

  it('carries prices as integer cents', () => {
    assert.deepEqual(
      events.map((event) => event.type === 'ItemAddedToCart' && event.payload.unitPriceCents),
      [1999, 10, 20],
    );
  });

  it('checks out 19.99 + 0.10 + 0.20 as exactly 2029 cents', () => {
    assert.deepEqual(cart.decide(stateAfter(events), checkout, defaultContext), [started('agg-1.1', [line('a', 1, 1999), line('b', 1, 10), line('c', 1, 20)], 2029)]);
  });

  it('projects 19.99 + 0.10 + 0.20 as a totalPrice of exactly 20.29', () => {
    const doc = project(events);
    assert.equal(doc?.totalPrice, 20.29);
    assert.equal(doc?.totalItems, 3);
    assert.deepEqual(doc?.items.map((item) => item.price), [19.99, 0.1, 0.2]);
  });

  it('keeps projected totals exact where summing decimals would drift', () => {
    // In doubles 0.1 + 0.2 is 0.30000000000000004 and 3 * 1.1 is 3.3000000000000003.
    assert.equal(project([added('b', 1, 10), added('c', 1, 20)])?.totalPrice, 0.3);
    assert.equal(project([added('d', 3, 110)])?.totalPrice, 3.3);
  });
});

describe('cart projection', () => {
  it('creates the document from the first event', () => {
    assert.deepEqual(project([added('apple', 2, 1999)]), {
      cartId: 'cart-1',
      items: [{ itemId: 'apple', quantity: 2, price: 19.99 }],
      totalItems: 2,
      totalPrice: 39.98,
      status: 'open',
      orderId: null,
      lastCheckoutFailure: null,
      version: 1,
      updatedAt: '2024-05-01T10:00:01.000Z',
    });
  });

  it('raises the quantity of an item added again', () => {
    const doc = project([added('apple', 2, 1999), added('apple', 3, 1999)]);
    assert.deepEqual(doc?.items, [{ itemId: 'apple', quantity: 5, price: 19.99 }]);
    assert.equal(doc?.totalItems, 5);
    assert.equal(doc?.totalPrice, 99.95);
    assert.equal(doc?.version, 2);
  });

  it('recomputes totals after a removal', () => {
    const doc = project([added('apple', 2, 1999), added('pear', 1, 50), removed('apple')]);
    assert.deepEqual(doc?.items, [{ itemId: 'pear', quantity: 1, price: 0.5 }]);
    assert.equal(doc?.totalItems, 1);
    assert.equal(doc?.totalPrice, 0.5);
  });

  it('recomputes totals after a quantity change', () => {
    const doc = project([added('apple', 2, 1999), quantityChanged('apple', 4)]);
    assert.deepEqual(doc?.items, [{ itemId: 'apple', quantity: 4, price: 19.99 }]);
    assert.equal(doc?.totalItems, 4);
    assert.equal(doc?.totalPrice, 79.96);
  });

  it('shows a checkout under way, its failure, and the cart checked_out with its order and totals', () => {
    const checking = project([added('apple', 2, 1999), started('agg-1.1', [line('apple', 2, 1999)], 3998)]);
    assert.deepEqual([checking?.status, checking?.orderId], ['checking_out', 'agg-1.1']);
    const reopened = project([added('apple', 2, 1999), started('agg-1.1', [line('apple', 2, 1999)], 3998), failed('agg-1.1', 'PAYMENT_DECLINED', 'declined')]);
    assert.deepEqual([reopened?.status, reopened?.orderId, reopened?.lastCheckoutFailure?.code], ['open', null, 'PAYMENT_DECLINED']);
    const doc = project([added('apple', 2, 1999), started('agg-1.1', [line('apple', 2, 1999)], 3998), checkedOut(2, 3998)]);
    assert.equal(doc?.status, 'checked_out');
    assert.equal(doc?.orderId, 'agg-1.1');
    assert.equal(doc?.totalItems, 2);
    assert.equal(doc?.totalPrice, 39.98);
    assert.equal(doc?.version, 3);
    assert.equal(doc?.updatedAt, '2024-05-01T10:00:03.000Z');
  });

  it('does not mutate the document it evolves from', () => {
    const doc = project([added('apple', 2, 1999)]);
    const copy = structuredClone(doc);
    cartProjection.evolve(doc, envelope(added('apple', 1, 1999), 2));
    cartProjection.evolve(doc, envelope(removed('apple'), 2));
    assert.deepEqual(doc, copy);
  });

  it('is keyed by the aggregate id', () => {
    assert.equal(cartProjection.documentId(envelope(added('apple', 1, 100), 1, 'cart-42')), 'cart-42');
  });
});
