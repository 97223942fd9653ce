import { defineModule } from 'ledgerflow';
import { inventory } from './inventory';
import { inventoryProjection } from './projection';

export * from './state';
export * from './inventory';
export * from './projection';

/** Stock levels are for everyone to read; staff receive stock; reservations are the checkout's alone. */
export const inventoryModule = defineModule({
  aggregate: inventory,
  readModel: inventoryProjection,
  access: { read: 'any', commands: { receiveStock: 'admin', reserve: 'internal', release: 'internal', commit: 'internal' } },
});
