import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MessageOf } from 'ledgerflow';
import { availableOf, inventory, inventoryEvents, inventoryLimits, reservedOf } from '../domain/inventory';
import { deciderSpec } from 'ledgerflow/testing';

type InventoryEvent = MessageOf<typeof inventoryEvents>;
const { given } = deciderSpec(inventory);

const received = (quantity: number): InventoryEvent => ({ type: 'StockReceived', payload: { quantity } });
const reserved = (orderId: string, quantity: number): InventoryEvent => ({ type: 'StockReserved', payload: { orderId, quantity } });
const released = (orderId: string, quantity: number): InventoryEvent => ({ type: 'ReservationReleased', payload: { orderId, quantity } });
const committed = (orderId: string, quantity: number): InventoryEvent => ({ type: 'ReservationCommitted', payload: { orderId, quantity } });

describe('inventory decider', () => {
  it('receives stock', () => {
    given().when({ type: 'receiveStock', payload: { quantity: 5 } }).then([received(5)]);
  });

  it('reserves what is available and no more (OUT_OF_STOCK)', () => {
    given(received(5)).when({ type: 'reserve', payload: { orderId: 'o1', quantity: 5 } }).then([reserved('o1', 5)]);
    given(received(5), reserved('o1', 3)).when({ type: 'reserve', payload: { orderId: 'o2', quantity: 3 } }).thenRejects('OUT_OF_STOCK');
    given().when({ type: 'reserve', payload: { orderId: 'o1', quantity: 1 } }).thenRejects('OUT_OF_STOCK');
  });

  it('keeps one reservation per order (RESERVATION_EXISTS)', () => {
    given(received(5), reserved('o1', 1)).when({ type: 'reserve', payload: { orderId: 'o1', quantity: 2 } }).thenRejects('RESERVATION_EXISTS');
  });

  describe('a process step resent after its commandId was forgotten is that step', () => {
    it('a reserve for the order that holds that reservation is that reservation: accepted, no new events', () => {
      given(received(5), reserved('o1', 3)).when({ type: 'reserve', payload: { orderId: 'o1', quantity: 3 } }).then([]);
    });

    it('a reserve for a settled reservation is refused (RESERVATION_SETTLED): stock is never reserved twice for one order', () => {
      given(received(5), reserved('o1', 3), released('o1', 3)).when({ type: 'reserve', payload: { orderId: 'o1', quantity: 3 } }).thenRejects('RESERVATION_SETTLED');
      given(received(5), reserved('o1', 3), committed('o1', 3)).when({ type: 'reserve', payload: { orderId: 'o1', quantity: 3 } }).thenRejects('RESERVATION_SETTLED');
    });

    it('a release of a released reservation and a commit of a committed one: accepted, no new events', () => {
      given(received(5), reserved('o1', 3), released('o1', 3)).when({ type: 'release', payload: { orderId: 'o1' } }).then([]);
      given(received(5), reserved('o1', 3), committed('o1', 3)).when({ type: 'commit', payload: { orderId: 'o1' } }).then([]);
    });

    it('remembers which way a reservation settled across later ones', () => {
      const history = [received(9), reserved('a', 1), committed('a', 1), reserved('b', 1), released('b', 1), reserved('c', 1), committed('c', 1)];
      given(...history).when({ type: 'commit', payload: { orderId: 'a' } }).then([]);
      given(...history).when({ type: 'release', payload: { orderId: 'a' } }).thenRejects('RESERVATION_SETTLED');
      given(...history).when({ type: 'release', payload: { orderId: 'b' } }).then([]);
      given(...history).when({ type: 'commit', payload: { orderId: 'b' } }).thenRejects('RESERVATION_SETTLED');
    });
  });

  it('releases a reservation: the stock is available again; it cannot be committed after', () => {
    given(received(5), reserved('o1', 3)).when({ type: 'release', payload: { orderId: 'o1' } }).then([released('o1', 3)]);
    const state = given(received(5), reserved('o1', 3), released('o1', 3)).state();
    assert.deepEqual([state.onHand, reservedOf(state), availableOf(state)], [5, 0, 5]);
    given(received(5), reserved('o1', 3), released('o1', 3)).when({ type: 'commit', payload: { orderId: 'o1' } }).thenRejects('RESERVATION_SETTLED');
  });

  it('commits a reservation: the stock leaves the shelf; it cannot be released after', () => {
    given(received(5), reserved('o1', 3)).when({ type: 'commit', payload: { orderId: 'o1' } }).then([committed('o1', 3)]);
    const state = given(received(5), reserved('o1', 3), committed('o1', 3)).state();
    assert.deepEqual([state.onHand, reservedOf(state), availableOf(state)], [2, 0, 2]);
    given(received(5), reserved('o1', 3), committed('o1', 3)).when({ type: 'release', payload: { orderId: 'o1' } }).thenRejects('RESERVATION_SETTLED');
  });

  it('refuses to release or commit an order it never reserved (NO_RESERVATION)', () => {
    given(received(5)).when({ type: 'release', payload: { orderId: 'nope' } }).thenRejects('NO_RESERVATION');
  });

  it('never goes below zero, whatever the order of reservations and commits', () => {
    const history = [received(3), reserved('a', 2), committed('a', 2), reserved('b', 1)];
    const state = given(...history).state();
    assert.deepEqual([state.onHand, availableOf(state)], [1, 0]);
    given(...history).when({ type: 'reserve', payload: { orderId: 'c', quantity: 1 } }).thenRejects('OUT_OF_STOCK');
  });

  it(`keeps at most ${inventoryLimits.openReservations} reservations open (TOO_MANY_RESERVATIONS)`, () => {
    const many = Array.from({ length: inventoryLimits.openReservations }, (_, i) => reserved(`o${i}`, 1));
    given(received(inventoryLimits.openReservations + 10), ...many).when({ type: 'reserve', payload: { orderId: 'x', quantity: 1 } }).thenRejects('TOO_MANY_RESERVATIONS');
  });
});
