/**
 * The reference domain as the next release might ship it: the cart's rules got stricter (at
 * most 5 of an item, no more than 3 lines). Used to deploy a changed `decide` under running
 * aggregates.
 */
import { defineAggregate } from '../../../core/aggregate';
import { DomainError } from '../../../core/errors';
import { aggregates } from '../../../domain';
import { cart } from '../../../domain/cart';

export const stricterCart = defineAggregate({
  ...cart,
  decide(state, command, context) {
    if (command.type === 'addItem') {
      const line = state.items.find((l) => l.itemId === command.payload.itemId);
      if ((line?.quantity ?? 0) + command.payload.quantity > 5) throw new DomainError('QUANTITY_LIMIT', 'at most 5 of an item (new rule)');
      if (!line && state.items.length >= 3) throw new DomainError('CART_FULL', 'at most 3 lines (new rule)');
    }
    return cart.decide(state, command, context);
  },
});

export const stricterAggregates = { ...aggregates, cart: stricterCart };
