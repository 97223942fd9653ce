/**
 * The reference domain as the next release might ship it: the cart's rules got stricter (at
 * most 5 of an item, no more than 3 lines). Used to deploy a changed `decide` under running
 * aggregates.
 */
import { defineAggregate, defineConfig, defineModule, DomainError } from 'ledgerflow';
import shop from '../../../examples/shop/ledgerflow.config';
import { cart } from '../../../examples/shop/domain';

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

/** The shop with this cart in place of its own. */
export default defineConfig({ ...shop, modules: { ...shop.modules, cart: defineModule({ aggregate: stricterCart, readModel: shop.modules.cart.readModel, queries: shop.modules.cart.queries }) } });
