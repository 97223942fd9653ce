/** The cart with a bug a release might ship: adding the item `bug` throws a TypeError in decide. */
import { defineAggregate, defineConfig, defineModule } from 'ledgerflow';
import shop from '../../../examples/shop/ledgerflow.config';
import { cart } from '../../../examples/shop/domain';

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

/** The shop with this cart in place of its own. */
export default defineConfig({ ...shop, modules: { ...shop.modules, cart: defineModule({ aggregate: buggyCart, readModel: shop.modules.cart.readModel, queries: shop.modules.cart.queries }) } });
