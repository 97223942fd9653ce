import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { replay } from '../../core/decider';
import type { EventEnvelope } from '../../core/envelopes';
import { currentSchemaVersion, upcast, UpcastError } from '../../core/upcasting';
import { cart, type CartState } from '../../domain/cart';

const v1Added = (version: number, itemId: string, price: number): EventEnvelope => ({
  eventId: `cart:c1:${version}`,
  aggregateType: 'cart',
  aggregateId: 'c1',
  version,
  type: 'ItemAddedToCart',
  schemaVersion: 1,
  payload: { itemId, quantity: 1, price },
  occurredAt: '2026-01-01T00:00:00.000Z',
  commandId: `cmd-${version}`,
  correlationId: 'corr',
  causationId: `cmd-${version}`,
});

describe('schema evolution', () => {
  it('knows each event type’s current schema version from its upcasters', () => {
    assert.equal(currentSchemaVersion(cart, 'ItemAddedToCart'), 2);
    assert.equal(currentSchemaVersion(cart, 'CartCheckedOut'), 1);
    assert.equal(currentSchemaVersion(cart, 'toString'), 1);
  });

  it('upcasts a schema-1 ItemAddedToCart (decimal price) to schema 2 (exact cents)', () => {
    const upcasted = upcast(cart, v1Added(1, 'apple', 19.99));
    assert.equal(upcasted.schemaVersion, 2);
    assert.deepEqual(upcasted.payload, { itemId: 'apple', quantity: 1, unitPriceCents: 1999 });
    assert.equal(upcasted.eventId, 'cart:c1:1');
  });

  it('passes current events through untouched', () => {
    const current = { ...v1Added(1, 'apple', 1), schemaVersion: 2, payload: { itemId: 'apple', quantity: 1, unitPriceCents: 100 } };
    assert.equal(upcast(cart, current), current);
  });

  it('refuses an event written by newer code', () => {
    assert.throws(() => upcast(cart, { ...v1Added(1, 'a', 1), schemaVersion: 3 }), UpcastError);
  });

  it('replays a log mixing schema 1 and schema 2 into the same state', () => {
    const snapshot = replay<CartState>(cart, [
      v1Added(1, 'apple', 0.1),
      { ...v1Added(2, 'pear', 0), schemaVersion: 2, payload: { itemId: 'pear', quantity: 2, unitPriceCents: 20 } },
    ]);
    assert.deepEqual(snapshot.state.items, [
      { itemId: 'apple', quantity: 1, unitPriceCents: 10 },
      { itemId: 'pear', quantity: 2, unitPriceCents: 20 },
    ]);
  });
});
