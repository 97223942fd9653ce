/** The inventory's events, its state and how the events change it (commands and `decide` are in inventory.ts). */
import { z } from 'zod';
import { assertNever, type MessageOf } from 'ledgerflow';

export const inventoryEvents = {
  StockReceived: z.object({ quantity: z.number().int().positive() }),
  StockReserved: z.object({ orderId: z.string(), quantity: z.number().int().positive() }),
  ReservationReleased: z.object({ orderId: z.string(), quantity: z.number().int().positive() }),
  ReservationCommitted: z.object({ orderId: z.string(), quantity: z.number().int().positive() }),
};


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
  /**
   * The settled ids that were committed (the rest were released), bounded like `settled`, so a
   * step resent for a settled reservation is told apart: the same step again is that step, the
   * other one is refused. Absent in inventories from before it was kept.
   */
  committed?: string[];
}

export const reservedOf = (state: InventoryState) => Object.values(state.reservations).reduce((sum, q) => sum + q, 0);
export const availableOf = (state: InventoryState) => state.onHand - reservedOf(state);

const remembered = (ids: readonly string[], id: string) => [...ids, id].slice(-inventoryLimits.settledRemembered);

const settle = (state: InventoryState, id: string, onHand: number, how: 'released' | 'committed'): InventoryState => {
  const { [id]: _, ...reservations } = state.reservations;
  const committed = state.committed ?? [];
  return { onHand, reservations, settled: remembered(state.settled, id), committed: how === 'committed' ? remembered(committed, id) : committed };
};

/** How a remembered order's reservation was settled (`undefined`: open, or not remembered). */
export function settlementOf(state: InventoryState, id: string): 'released' | 'committed' | undefined {
  if (!state.settled.includes(id)) return undefined;
  return state.committed?.includes(id) ? 'committed' : 'released';
}

export const initialInventory = (): InventoryState => ({ onHand: 0, reservations: {}, settled: [], committed: [] });

export function evolveInventory(state: InventoryState, event: InventoryEvent): InventoryState {
  switch (event.type) {
    case 'StockReceived':
      return { ...state, onHand: state.onHand + event.payload.quantity };
    case 'StockReserved':
      return { ...state, reservations: { ...state.reservations, [event.payload.orderId]: event.payload.quantity } };
    case 'ReservationReleased':
      return settle(state, event.payload.orderId, state.onHand, 'released');
    case 'ReservationCommitted':
      return settle(state, event.payload.orderId, state.onHand - event.payload.quantity, 'committed');
    default:
      return assertNever(event);
  }
}

/** A short Markdown summary for the Temporal Web UI. */
export const describeInventory = (state: InventoryState): string =>
  `**Product stock** — on hand ${state.onHand}, reserved ${reservedOf(state)}, available ${availableOf(state)}`;
