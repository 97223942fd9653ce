import { assertNever, defineProjection } from 'ledgerflow';
import { inventory } from './inventory';

/** A product's stock as clients read it. */
export interface InventoryReadModel {
  productId: string;
  onHand: number;
  reserved: number;
  available: number;
  version: number;
  updatedAt: string;
}

const counted = (doc: InventoryReadModel, onHand: number, reserved: number): InventoryReadModel => ({ ...doc, onHand, reserved, available: onHand - reserved });

export const inventoryProjection = defineProjection<InventoryReadModel, typeof inventory.events>({
  name: 'inventory',
  version: 1,
  source: inventory,
  evolve(current, event) {
    const doc: InventoryReadModel = {
      ...(current ?? { productId: event.aggregateId, onHand: 0, reserved: 0, available: 0 }),
      version: event.version,
      updatedAt: event.occurredAt,
    };
    switch (event.type) {
      case 'StockReceived':
        return counted(doc, doc.onHand + event.payload.quantity, doc.reserved);
      case 'StockReserved':
        return counted(doc, doc.onHand, doc.reserved + event.payload.quantity);
      case 'ReservationReleased':
        return counted(doc, doc.onHand, doc.reserved - event.payload.quantity);
      case 'ReservationCommitted':
        return counted(doc, doc.onHand - event.payload.quantity, doc.reserved - event.payload.quantity);
      default:
        return assertNever(event);
    }
  },
});
