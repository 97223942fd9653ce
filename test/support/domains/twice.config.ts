/**
 * The cart with a write-side defect a release might ship: an add of an item whose id ends in
 * `~twice` is decided twice, so one command becomes two events (two versions, one commandId).
 * The drill accounting must see it as Temporal, RabbitMQ and Redis show it.
 */
import { defineAggregate, defineConfig, defineModule } from 'ledgerflow';
import shop from '../../../examples/shop/ledgerflow.config';
import { cart } from '../../../examples/shop/domain';

export const twiceCart = defineAggregate({
  ...cart,
  decide(state, command, context) {
    const events = cart.decide(state, command, context);
    return command.type === 'addItem' && command.payload.itemId.endsWith('~twice') ? [...events, ...events] : events;
  },
});

/** The shop with this cart in place of its own. */
export default defineConfig({ ...shop, modules: { ...shop.modules, cart: defineModule({ aggregate: twiceCart, readModel: shop.modules.cart.readModel, queries: shop.modules.cart.queries }) } });
