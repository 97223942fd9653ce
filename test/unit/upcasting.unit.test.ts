import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AnyAggregate } from '../../core/aggregate';
import { decideCommand, replay } from '../../core/decider';
import type { EventEnvelope } from '../../core/envelopes';
import { currentSchemaVersion, upcast, UpcastError } from '../../core/upcasting';
import { cart, type CartState } from '../../examples/shop/domain/cart';
import { cartV2 } from '../support/cart-v2';

/** An ItemAddedToCart exactly as the cart writes it today: schema 1, no currency. */
const schema1 = (version: number, itemId: string): EventEnvelope => ({
  eventId: `cart:c1:${version}`,
  aggregateType: 'cart',
  aggregateId: 'c1',
  version,
  type: 'ItemAddedToCart',
  schemaVersion: 1,
  payload: { itemId, quantity: 1, unitPriceCents: 150 },
  occurredAt: '2026-01-01T00:00:00.000Z',
  commandId: `cmd-${version}`,
  correlationId: 'corr',
  causationId: `cmd-${version}`,
});

describe('schema evolution', () => {
  it('derives each event type’s current schema version from its upcasters', () => {
    assert.equal(currentSchemaVersion(cart, 'ItemAddedToCart'), 1);
    assert.equal(currentSchemaVersion(cartV2, 'ItemAddedToCart'), 2);
    assert.equal(currentSchemaVersion(cartV2, 'CartCheckedOut'), 1);
    assert.equal(currentSchemaVersion(cartV2, 'toString'), 1);
  });

  it('writes new events with the current schema version', () => {
    const decision = decideCommand(
      { ...cartV2, decide: () => [{ type: 'ItemAddedToCart', payload: { itemId: 'a', quantity: 1, unitPriceCents: 1, currency: 'USD' } }] } as AnyAggregate,
      { state: cartV2.initialState(), version: 0 },
      { commandId: 'k', aggregateType: 'cart', aggregateId: 'c1', type: 'removeItem', payload: { itemId: 'a' }, metadata: { correlationId: 'k', issuedAt: '2026-01-01T00:00:00.000Z' } },
      '2026-01-01T00:00:00.000Z',
    );
    assert.equal(decision.events[0]!.schemaVersion, 2);
  });

  it('upcasts a schema-1 event to schema 2', () => {
    const upcasted = upcast(cartV2, schema1(1, 'apple'));
    assert.equal(upcasted.schemaVersion, 2);
    assert.deepEqual(upcasted.payload, { itemId: 'apple', quantity: 1, unitPriceCents: 150, currency: 'EUR' });
    assert.equal(upcasted.eventId, 'cart:c1:1');
  });

  it('passes current events through untouched', () => {
    const current = { ...schema1(1, 'apple'), schemaVersion: 2, payload: { itemId: 'apple', quantity: 1, unitPriceCents: 100, currency: 'USD' } };
    assert.equal(upcast(cartV2, current), current);
  });

  it('refuses an event written by newer code', () => {
    assert.throws(() => upcast(cart, { ...schema1(1, 'a'), schemaVersion: 2 }), UpcastError);
  });

  it('replays a log mixing schema 1 and schema 2 into the same state', () => {
    const snapshot = replay<CartState>(cartV2, [
      schema1(1, 'apple'),
      { ...schema1(2, 'pear'), schemaVersion: 2, payload: { itemId: 'pear', quantity: 2, unitPriceCents: 20, currency: 'USD' } },
    ]);
    assert.deepEqual(
      snapshot.state.items.map((i) => i.itemId),
      ['apple', 'pear'],
    );
    assert.equal(snapshot.version, 2);
  });
});
