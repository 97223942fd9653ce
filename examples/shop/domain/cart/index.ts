import { defineModule } from 'ledgerflow';
import { cart } from './cart';
import { cartProjection } from './projection';
import { cartQueries } from './queries';

export * from './state';
export * from './cart';
export * from './projection';

export const cartModule = defineModule({ aggregate: cart, readModel: cartProjection, queries: cartQueries });
