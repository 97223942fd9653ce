import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LookedUp, MessageOf } from 'ledgerflow';
import type { CustomerState } from '../domain/customer';
import { order, orderEvents } from '../domain/order';
import { deciderSpec, defaultContext } from 'ledgerflow/testing';

type OrderEvent = MessageOf<typeof orderEvents>;
const address = { line1: '1 Main St', city: 'Berlin', postalCode: '10115', country: 'DE' };
const createCommand = { type: 'create' as const, payload: { customerId: 'ada', items: [{ itemId: 'book', quantity: 2, price: 12.5 }], shippingAddress: address } };
const customerAt = (status: CustomerState['status'], version = 3): LookedUp<CustomerState> => ({ state: { status, name: 'Ada', email: 'ada@example.com' }, version });
const spec = (customer: LookedUp<CustomerState> | null) => deciderSpec(order, { ...defaultContext, lookups: { customer } });

const created: OrderEvent = {
  type: 'OrderCreated',
  payload: { customerId: 'ada', items: [{ itemId: 'book', quantity: 2, unitPriceCents: 1250 }], totalCents: 2500, shippingAddress: address, customerVersion: 3 },
};
const shipped: OrderEvent = { type: 'OrderShipped', payload: {} };
const cancelled: OrderEvent = { type: 'OrderCancelled', payload: { reason: 'changed my mind' } };
const { given } = spec(customerAt('active'));

describe('order decider', () => {
  it('reads its customer, and only when it is created', () => {
    assert.deepEqual(order.lookups(createCommand), { customer: { aggregateType: 'customer', aggregateId: 'ada' } });
    assert.deepEqual(order.lookups({ type: 'ship', payload: {} }), {});
  });

  it('is created for an active customer, with exact totals and the customer version it read', () => {
    given().when(createCommand).then([created]);
  });

  it('refuses an unknown customer (CUSTOMER_NOT_FOUND) and an inactive one (CUSTOMER_INACTIVE: "Customer is inactive")', () => {
    spec(null).given().when(createCommand).thenRejects('CUSTOMER_NOT_FOUND');
    spec(customerAt('inactive')).given().when(createCommand).thenRejects('CUSTOMER_INACTIVE');
    assert.throws(() => order.decide(order.initialState(), createCommand, { ...defaultContext, lookups: { customer: customerAt('inactive') } }), /Customer is inactive/);
  });

  it('is created once: the same create resent is that order (no new events); another one is refused (ORDER_ALREADY_CREATED)', () => {
    given(created).when(createCommand).then([]);
    given(created).when({ ...createCommand, payload: { ...createCommand.payload, customerId: 'bob' } }).thenRejects('ORDER_ALREADY_CREATED');
    given(created).when({ ...createCommand, payload: { ...createCommand.payload, items: [{ itemId: 'book', quantity: 3, price: 12.5 }] } }).thenRejects('ORDER_ALREADY_CREATED');
  });

  it('takes a cancel resent for a cancelled order as that cancellation: accepted, no new events', () => {
    given(created, cancelled).when({ type: 'cancel', payload: { reason: 'checkout failed' } }).then([]);
  });

  it('ships, then completes; completion needs shipping first', () => {
    given(created).when({ type: 'ship', payload: {} }).then([shipped]);
    given(created).when({ type: 'complete', payload: {} }).thenRejects('ORDER_NOT_SHIPPED');
    given(created, shipped).when({ type: 'complete', payload: {} }).then([{ type: 'OrderCompleted', payload: {} }]);
    given(created, shipped).when({ type: 'ship', payload: {} }).thenRejects('ORDER_ALREADY_SHIPPED');
  });

  it('refuses shipping a cancelled order and cancelling a shipped one', () => {
    given(created, cancelled).when({ type: 'ship', payload: {} }).thenRejects('ORDER_CANCELLED');
    given(created, shipped).when({ type: 'cancel', payload: { reason: 'too late' } }).thenRejects('ORDER_ALREADY_SHIPPED');
  });

  it('is terminal once completed or cancelled', () => {
    assert.equal(order.isTerminal(given(created, cancelled).state()), true);
    assert.equal(order.isTerminal(given(created, shipped, { type: 'OrderCompleted', payload: {} }).state()), true);
    assert.equal(order.isTerminal(given(created, shipped).state()), false);
  });
});
