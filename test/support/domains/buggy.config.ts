/** The cart with a bug a release might ship: adding the item `bug` throws a TypeError in decide. */
import { defineAggregate } from '../../../core/aggregate';
import { aggregates } from '../../../domain';
import { cart } from '../../../domain/cart';

export const buggyCart = defineAggregate({
  ...cart,
  decide(state, command, context) {
    if (command.type === 'addItem' && command.payload.itemId === 'bug') {
      const missing = undefined as unknown as { price: number };
      return [{ type: 'ItemAddedToCart', payload: { itemId: 'bug', quantity: 1, unitPriceCents: missing.price } }];
    }
    return cart.decide(state, command, context);
  },
});

export const buggyAggregates = { ...aggregates, cart: buggyCart };
