/** An order's state and how its events change it (free of zod; commands and `decide` are in order.ts). */
import type { MessageOf } from '../../core/aggregate';
import { fromCents } from '../../core/cents';
import { assertNever, defineEvolver } from '../../core/evolver';
import type { orderEvents } from './order';

export type OrderEvent = MessageOf<typeof orderEvents>;

export interface OrderState {
  status: 'none' | 'created' | 'shipped' | 'completed' | 'cancelled';
  customerId: string;
  totalCents: number;
}

export const orderEvolver = defineEvolver({
  name: 'order',
  initialState: (): OrderState => ({ status: 'none', customerId: '', totalCents: 0 }),

  evolve(state: OrderState, event: OrderEvent): OrderState {
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
  },

  isTerminal: (state) => state.status === 'completed' || state.status === 'cancelled',
  describe: (state) => `**Order** — ${state.status}${state.status === 'none' ? '' : `, customer ${state.customerId}, total ${fromCents(state.totalCents).toFixed(2)}`}`,
});
