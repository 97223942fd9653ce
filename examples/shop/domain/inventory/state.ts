/** A product's stock and how its events change it (free of zod; commands and `decide` are in inventory.ts). */
import type { MessageOf } from '../../core/aggregate';
import { assertNever, defineEvolver } from '../../core/evolver';
import type { inventoryEvents } from './inventory';

export type InventoryEvent = MessageOf<typeof inventoryEvents>;

/** The product's own bounds: its state stays small however many orders touch it. */
export const inventoryLimits = {
  /** Reservations open at once. */
  openReservations: 1_000,
  /** Settled (released or committed) order ids remembered, so none is settled twice. */
  settledRemembered: 500,
} as const;

export interface InventoryState {
  onHand: number;
  /** Open reservations: orderId → quantity. */
  reservations: Record<string, number>;
  /** The most recently settled order ids, newest last. */
  settled: string[];
}

export const reservedOf = (state: InventoryState) => Object.values(state.reservations).reduce((sum, q) => sum + q, 0);
export const availableOf = (state: InventoryState) => state.onHand - reservedOf(state);

const settle = (state: InventoryState, id: string, onHand: number): InventoryState => {
  const { [id]: _, ...reservations } = state.reservations;
  return { onHand, reservations, settled: [...state.settled, id].slice(-inventoryLimits.settledRemembered) };
};

export const inventoryEvolver = defineEvolver({
  name: 'inventory',
  initialState: (): InventoryState => ({ onHand: 0, reservations: {}, settled: [] }),

  evolve(state: InventoryState, event: InventoryEvent): InventoryState {
    switch (event.type) {
      case 'StockReceived':
        return { ...state, onHand: state.onHand + event.payload.quantity };
      case 'StockReserved':
        return { ...state, reservations: { ...state.reservations, [event.payload.orderId]: event.payload.quantity } };
      case 'ReservationReleased':
        return settle(state, event.payload.orderId, state.onHand);
      case 'ReservationCommitted':
        return settle(state, event.payload.orderId, state.onHand - event.payload.quantity);
      default:
        return assertNever(event);
    }
  },

  describe: (state) => `**Product stock** — on hand ${state.onHand}, reserved ${reservedOf(state)}, available ${availableOf(state)}`,
});
