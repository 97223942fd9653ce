import { defineModule } from 'ledgerflow';
import { order } from './order';
import { isOrderSummary, orderSummaries } from './projection';
import { customerOfOrder } from '../owners';
import { orderQueries } from './queries';

export * from './state';
export * from './order';
export * from './projection';

/** A user reads and cancels their own orders; staff ship and complete them; only the checkout creates them. */
export const orderModule = defineModule({
  aggregate: order,
  readModel: orderSummaries,
  document: isOrderSummary,
  queries: orderQueries,
  access: {
    // An order's id is `<customerId>.<n>`: it belongs to that customer.
    owner: customerOfOrder,
    read: 'owner',
    commands: { create: 'internal', ship: 'admin', complete: 'admin', cancel: 'owner' },
  },
});
