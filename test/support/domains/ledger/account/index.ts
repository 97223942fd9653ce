import { defineModule } from 'ledgerflow';
import { account } from './account';
import { accountProjection } from './projection';
import { accountQueries } from './queries';

export * from './state';
export * from './account';
export * from './projection';
export * from './statement';

export const accountModule = defineModule({ aggregate: account, readModel: accountProjection, queries: accountQueries });
