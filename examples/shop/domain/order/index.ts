import { defineModule } from 'ledgerflow';
import { order } from './order';
import { isOrderSummary, orderSummaries } from './projection';
import { orderQueries } from './queries';

export * from './state';
export * from './order';
export * from './projection';

export const orderModule = defineModule({ aggregate: order, readModel: orderSummaries, document: isOrderSummary, queries: orderQueries });
