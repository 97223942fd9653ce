import { defineModule } from 'ledgerflow';
import { customer } from './customer';
import { customerProjection } from './projection';

export * from './state';
export * from './customer';
export * from './projection';

export const customerModule = defineModule({ aggregate: customer, readModel: customerProjection });
