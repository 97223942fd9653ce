import { defineModule } from 'ledgerflow';
import { customer } from './customer';
import { ownerIsId } from '../owners';
import { customerProjection } from './projection';

export * from './state';
export * from './customer';
export * from './projection';

/** A user registers, renames and closes only their own customer (its id is theirs); reactivating one is an admin's. */
export const customerModule = defineModule({
  aggregate: customer,
  readModel: customerProjection,
  access: { owner: ownerIsId, read: 'owner', commands: { register: 'owner', rename: 'owner', deactivate: 'owner', reactivate: 'admin' } },
});
