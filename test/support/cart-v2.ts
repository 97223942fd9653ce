/**
 * The cart as a later release might define it: ItemAddedToCart gains a `currency` (schema 2),
 * and an upcaster reads the schema-1 events already in the log as euros. Used to test schema
 * evolution against events the real cart writes today.
 */
import { z } from 'zod';
import type { AnyAggregate, Upcasters } from '../../core/aggregate';
import { defineProjection } from '../../core/projection';
import { cart, cartEvents } from '../../examples/shop/domain/cart';

export const cartV2Events = {
  ...cartEvents,
  ItemAddedToCart: cartEvents.ItemAddedToCart.extend({ currency: z.string().length(3) }),
};

const upcasters: Upcasters<typeof cartV2Events> = {
  ItemAddedToCart: { 1: (payload) => ({ ...payload, currency: 'EUR' }) },
};

/** The cart's decider with the new event schemas (its decide still writes schema-1 shapes: tests only). */
export const cartV2 = { ...cart, events: cartV2Events, upcasters } as AnyAggregate;

/** Which currencies each cart's items were priced in, read through the upcaster. */
export const currenciesProjection = defineProjection<{ cartId: string; currencies: string[]; version: number }, typeof cartV2Events>({
  name: 'cart-currencies',
  version: 1,
  source: { name: 'cart', events: cartV2Events, upcasters },
  evolve(doc, event) {
    const current = doc ?? { cartId: event.aggregateId, currencies: [], version: 0 };
    if (event.type !== 'ItemAddedToCart') return { ...current, version: event.version };
    const currencies = current.currencies.includes(event.payload.currency) ? current.currencies : [...current.currencies, event.payload.currency];
    return { ...current, currencies, version: event.version };
  },
});
