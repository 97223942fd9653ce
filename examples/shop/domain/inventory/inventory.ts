import { z } from 'zod';
import { assertNever, defineAggregate, DomainError } from 'ledgerflow';
import { availableOf, describeInventory, evolveInventory, initialInventory, inventoryEvents, inventoryLimits, settlementOf, type InventoryState } from './state';

const quantity = z.number().int({ message: 'must be a whole number' }).min(1, { message: 'must be at least 1' }).max(1_000_000, { message: 'must be at most 1,000,000' });
const orderId = z.string().min(1).max(128);

export const inventoryCommands = {
  receiveStock: z.strictObject({ quantity }),
  reserve: z.strictObject({ orderId, quantity }),
  release: z.strictObject({ orderId }),
  commit: z.strictObject({ orderId }),
};


export const inventoryErrorCodes = {
  OUT_OF_STOCK: 'OUT_OF_STOCK',
  RESERVATION_EXISTS: 'RESERVATION_EXISTS',
  NO_RESERVATION: 'NO_RESERVATION',
  RESERVATION_SETTLED: 'RESERVATION_SETTLED',
  TOO_MANY_RESERVATIONS: 'TOO_MANY_RESERVATIONS',
} as const;


/**
 * A process step resent for a reservation it already settled (its commandId forgotten by the
 * aggregate meanwhile) is that step: accepted with no new events. The other step is refused.
 */
function settleStep(state: InventoryState, id: string, step: 'released' | 'committed', event: 'ReservationReleased' | 'ReservationCommitted') {
  const quantity = Object.hasOwn(state.reservations, id) ? state.reservations[id] : undefined;
  if (quantity !== undefined) return [{ type: event, payload: { orderId: id, quantity } }] as const;
  const settled = settlementOf(state, id);
  if (settled === step) return [];
  if (settled) throw new DomainError(inventoryErrorCodes.RESERVATION_SETTLED, `the reservation for order ${id} was already ${settled}`);
  throw new DomainError(inventoryErrorCodes.NO_RESERVATION, `there is no reservation for order ${id}`);
}

/** One aggregate per product: stock on hand and reservations against it, never below zero. */
export const inventory = defineAggregate({
  name: 'inventory',
  idField: 'productId',
  events: inventoryEvents,
  initialState: initialInventory,
  evolve: evolveInventory,
  describe: describeInventory,
  commands: inventoryCommands,
  errorCodes: Object.values(inventoryErrorCodes),
  decide(state, command) {
    switch (command.type) {
      case 'receiveStock':
        return [{ type: 'StockReceived', payload: command.payload }];
      case 'reserve': {
        const { orderId: id, quantity: wanted } = command.payload;
        const held = Object.hasOwn(state.reservations, id) ? state.reservations[id] : undefined;
        // The same reserve resent (its commandId forgotten meanwhile) is the reservation it made.
        if (held === wanted) return [];
        if (held !== undefined) throw new DomainError(inventoryErrorCodes.RESERVATION_EXISTS, `order ${id} already holds ${held} of this product`);
        const settled = settlementOf(state, id);
        if (settled) throw new DomainError(inventoryErrorCodes.RESERVATION_SETTLED, `the reservation for order ${id} was already ${settled}`);
        if (Object.keys(state.reservations).length >= inventoryLimits.openReservations) {
          throw new DomainError(inventoryErrorCodes.TOO_MANY_RESERVATIONS, `${inventoryLimits.openReservations} reservations are open on this product`);
        }
        const available = availableOf(state);
        if (wanted > available) throw new DomainError(inventoryErrorCodes.OUT_OF_STOCK, `only ${available} available, ${wanted} wanted`, 'RULE_VIOLATED', { available, wanted });
        return [{ type: 'StockReserved', payload: { orderId: id, quantity: wanted } }];
      }
      case 'release':
        return settleStep(state, command.payload.orderId, 'released', 'ReservationReleased');
      case 'commit':
        return settleStep(state, command.payload.orderId, 'committed', 'ReservationCommitted');
      default:
        return assertNever(command);
    }
  },

});
