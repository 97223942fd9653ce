import { assertNever, defineProjection } from 'ledgerflow';
import { customer } from './customer';

/** A customer as clients read it. */
export interface CustomerReadModel {
  customerId: string;
  name: string;
  email: string;
  status: 'active' | 'inactive';
  registeredAt: string;
  version: number;
  updatedAt: string;
}

export const customerProjection = defineProjection<CustomerReadModel, typeof customer.events>({
  name: 'customers',
  version: 1,
  source: customer,
  evolve(current, event) {
    if (event.type === 'CustomerRegistered') {
      const { name, email } = event.payload;
      return { customerId: event.aggregateId, name, email, status: 'active', registeredAt: event.occurredAt, version: event.version, updatedAt: event.occurredAt };
    }
    if (!current) return null; // nothing before registration is ever decided
    const next = { ...current, version: event.version, updatedAt: event.occurredAt };
    switch (event.type) {
      case 'CustomerRenamed':
        return { ...next, name: event.payload.name };
      case 'CustomerDeactivated':
        return { ...next, status: 'inactive' };
      case 'CustomerReactivated':
        return { ...next, status: 'active' };
      default:
        return assertNever(event);
    }
  },
});
