import { defineModule } from 'ledgerflow';
import { inventory } from './inventory';
import { inventoryProjection } from './projection';

export * from './state';
export * from './inventory';
export * from './projection';

export const inventoryModule = defineModule({ aggregate: inventory, readModel: inventoryProjection });
