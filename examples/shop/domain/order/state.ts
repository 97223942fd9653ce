/** The order's events, its state and how the events change it (commands and `decide` are in order.ts). */
import { z } from 'zod';
import { assertNever, fromCents, cents, type MessageOf } from 'ledgerflow';

const orderLine = z.object({ itemId: z.string(), quantity: z.number().int().positive(), unitPriceCents: cents });

export const orderEvents = {
  OrderCreated: z.object({
    customerId: z.string(),
    items: z.array(orderLine),
    totalCents: cents,
    shippingAddress: z.object({ line1: z.string(), city: z.string(), postalCode: z.string(), country: z.string() }),
    /** The customer's version the decision read: the order was created against that state. */
    customerVersion: z.number().int().positive(),
  }),
  OrderShipped: z.object({}),
  OrderCompleted: z.object({}),
  OrderCancelled: z.object({ reason: z.string() }),
};


export type OrderEvent = MessageOf<typeof orderEvents>;

export interface OrderState {
  status: 'none' | 'created' | 'shipped' | 'completed' | 'cancelled';
  customerId: string;
  totalCents: number;
}

export const initialOrder = (): OrderState => ({ status: 'none', customerId: '', totalCents: 0 });

export function evolveOrder(state: OrderState, event: OrderEvent): OrderState {
  switch (event.type) {
    case 'OrderCreated':
      return { status: 'created', customerId: event.payload.customerId, totalCents: event.payload.totalCents };
    case 'OrderShipped':
      return { ...state, status: 'shipped' };
    case 'OrderCompleted':
      return { ...state, status: 'completed' };
    case 'OrderCancelled':
      return { ...state, status: 'cancelled' };
    default:
      return assertNever(event);
  }
}

export const isOrderTerminal = (state: OrderState) => state.status === 'completed' || state.status === 'cancelled';

/** A short Markdown summary for the Temporal Web UI. */
export const describeOrder = (state: OrderState): string =>
  `**Order** — ${state.status}${state.status === 'none' ? '' : `, customer ${state.customerId}, total ${fromCents(state.totalCents).toFixed(2)}`}`;
