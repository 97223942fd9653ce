import { defineModule } from 'ledgerflow';
import { cart } from './cart';
import { cartProjection } from './projection';
import { ownerIsId } from '../owners';
import { cartQueries } from './queries';

export * from './state';
export * from './cart';
export * from './projection';

/** A user fills and checks out only their own cart (its id is theirs); the checkout's answers are internal commands. */
export const cartModule = defineModule({
  aggregate: cart,
  readModel: cartProjection,
  queries: cartQueries,
  access: { owner: ownerIsId, read: 'owner', commands: { addItem: 'owner', removeItem: 'owner', changeQuantity: 'owner', checkout: 'owner', cancelCheckout: 'owner' } },
});
