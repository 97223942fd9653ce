/** The customer's state and how its events change it (free of zod; commands and `decide` are in customer.ts). */
import type { MessageOf } from '../../core/aggregate';
import { assertNever, defineEvolver } from '../../core/evolver';
import type { customerEvents } from './customer';

export type CustomerEvent = MessageOf<typeof customerEvents>;

export interface CustomerState {
  status: 'unregistered' | 'active' | 'inactive';
  name: string;
  email: string;
}

export const customerEvolver = defineEvolver({
  name: 'customer',
  initialState: (): CustomerState => ({ status: 'unregistered', name: '', email: '' }),

  evolve(state: CustomerState, event: CustomerEvent): CustomerState {
    switch (event.type) {
      case 'CustomerRegistered':
        return { status: 'active', name: event.payload.name, email: event.payload.email };
      case 'CustomerRenamed':
        return { ...state, name: event.payload.name };
      case 'CustomerDeactivated':
        return { ...state, status: 'inactive' };
      case 'CustomerReactivated':
        return { ...state, status: 'active' };
      default:
        return assertNever(event);
    }
  },

  describe: (state) => `**Customer** — ${state.status === 'unregistered' ? 'not registered' : `${state.name} <${state.email}>, ${state.status}`}`,
});
