import { z } from 'zod';
import { assertNever, defineAggregate, DomainError } from 'ledgerflow';
import { availableOf, describeInventory, evolveInventory, initialInventory, inventoryEvents, inventoryLimits, type InventoryState } from './state';

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


function openReservation(state: InventoryState, id: string): number {
  const reserved = Object.hasOwn(state.reservations, id) ? state.reservations[id] : undefined;
  if (reserved !== undefined) return reserved;
  if (state.settled.includes(id)) throw new DomainError(inventoryErrorCodes.RESERVATION_SETTLED, `the reservation for order ${id} was already released or committed`);
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
        if (Object.hasOwn(state.reservations, id) || state.settled.includes(id)) {
          throw new DomainError(inventoryErrorCodes.RESERVATION_EXISTS, `order ${id} already has a reservation on this product`);
        }
        if (Object.keys(state.reservations).length >= inventoryLimits.openReservations) {
          throw new DomainError(inventoryErrorCodes.TOO_MANY_RESERVATIONS, `${inventoryLimits.openReservations} reservations are open on this product`);
        }
        const available = availableOf(state);
        if (wanted > available) throw new DomainError(inventoryErrorCodes.OUT_OF_STOCK, `only ${available} available, ${wanted} wanted`, 'RULE_VIOLATED', { available, wanted });
        return [{ type: 'StockReserved', payload: { orderId: id, quantity: wanted } }];
      }
      case 'release':
        return [{ type: 'ReservationReleased', payload: { orderId: command.payload.orderId, quantity: openReservation(state, command.payload.orderId) } }];
      case 'commit':
        return [{ type: 'ReservationCommitted', payload: { orderId: command.payload.orderId, quantity: openReservation(state, command.payload.orderId) } }];
      default:
        return assertNever(command);
    }
  },

});
