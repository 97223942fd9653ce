/** The customer's events, its state and how the events change it (commands and `decide` are in customer.ts). */
import { z } from 'zod';
import { assertNever, type MessageOf } from 'ledgerflow';

export const customerEvents = {
  CustomerRegistered: z.object({ name: z.string(), email: z.string() }),
  CustomerRenamed: z.object({ name: z.string() }),
  CustomerDeactivated: z.object({}),
  CustomerReactivated: z.object({}),
};


export type CustomerEvent = MessageOf<typeof customerEvents>;

export interface CustomerState {
  status: 'unregistered' | 'active' | 'inactive';
  name: string;
  email: string;
}

export const initialCustomer = (): CustomerState => ({ status: 'unregistered', name: '', email: '' });

export function evolveCustomer(state: CustomerState, event: CustomerEvent): CustomerState {
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
}

/** A short Markdown summary for the Temporal Web UI. */
export const describeCustomer = (state: CustomerState): string =>
  `**Customer** — ${state.status === 'unregistered' ? 'not registered' : `${state.name} <${state.email}>, ${state.status}`}`;
