import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { orderIdFor } from '../domain/cart/state';
import { customerOfOrder, ownerIsId } from '../domain/owners';

describe('who owns what in the shop', () => {
  it("gives each checkout's order to the cart's customer, dots in the customer id included", () => {
    for (const customer of ['ada', 'ada.1', 'user-1@example.com', 'a.b.c']) {
      for (const n of [1, 2, 10, 123]) assert.equal(customerOfOrder(orderIdFor(customer, n)), customer, `${customer} #${n}`);
    }
    assert.equal(ownerIsId('ada'), 'ada');
  });

  it('gives no user an order id a checkout cannot have made', () => {
    // `ada.1.2` is the second order of customer `ada.1`, never one of `ada`'s.
    assert.equal(customerOfOrder('ada.1.2'), 'ada.1');
    for (const id of ['ada', 'ada.', 'ada.01', 'ada.x', 'direct-order', orderIdFor('c'.repeat(127), 1)]) assert.equal(customerOfOrder(id), null, id);
  });
});
