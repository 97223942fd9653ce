import { assertNever, fromCents, defineProjection } from 'ledgerflow';
import { cart } from './cart';

/** The cart as clients read it: decimal prices, totals precomputed from exact cents. */
export interface CartReadModel {
  cartId: string;
  items: { itemId: string; quantity: number; price: number }[];
  totalItems: number;
  totalPrice: number;
  status: 'open' | 'checking_out' | 'checked_out';
  /** The order of the checkout under way, or of the one that completed. */
  orderId: string | null;
  /** Why the last checkout failed (the customer fixes the cart and checks out again). */
  lastCheckoutFailure: { orderId: string; code: string; reason: string } | null;
  version: number;
  updatedAt: string;
}

const withTotals = (doc: CartReadModel): CartReadModel => {
  const totalCents = doc.items.reduce((sum, item) => sum + item.quantity * Math.round(item.price * 100), 0);
  return { ...doc, totalItems: doc.items.reduce((sum, item) => sum + item.quantity, 0), totalPrice: fromCents(totalCents) };
};

export const cartProjection = defineProjection<CartReadModel, typeof cart.events>({
  name: 'carts',
  // 2: added the openSince index. 3: checkout as a process (status checking_out, orderId, lastCheckoutFailure).
  version: 3,
  source: cart,
  indexes: {
    /** Open carts by when they last changed: the oldest are the abandoned ones. */
    openSince: (doc) => (doc.status === 'open' ? Date.parse(doc.updatedAt) : null),
  },
  evolve(current, event) {
    const doc: CartReadModel = current ?? {
      cartId: event.aggregateId,
      items: [],
      totalItems: 0,
      totalPrice: 0,
      status: 'open',
      orderId: null,
      lastCheckoutFailure: null,
      version: 0,
      updatedAt: event.occurredAt,
    };
    const next = { ...doc, version: event.version, updatedAt: event.occurredAt };
    switch (event.type) {
      case 'ItemAddedToCart': {
        const { itemId, quantity, unitPriceCents } = event.payload;
        const exists = doc.items.some((item) => item.itemId === itemId);
        next.items = exists
          ? doc.items.map((item) => (item.itemId === itemId ? { ...item, quantity: item.quantity + quantity } : item))
          : [...doc.items, { itemId, quantity, price: fromCents(unitPriceCents) }];
        return withTotals(next);
      }
      case 'ItemRemovedFromCart':
        next.items = doc.items.filter((item) => item.itemId !== event.payload.itemId);
        return withTotals(next);
      case 'ItemQuantityChanged':
        next.items = doc.items.map((item) => (item.itemId === event.payload.itemId ? { ...item, quantity: event.payload.quantity } : item));
        return withTotals(next);
      case 'CheckoutStarted':
        return { ...next, status: 'checking_out', orderId: event.payload.orderId };
      case 'CheckoutFailed':
        return { ...next, status: 'open', orderId: null, lastCheckoutFailure: event.payload };
      case 'CartCheckedOut':
        return { ...next, status: 'checked_out', orderId: event.payload.orderId ?? null };
      default:
        return assertNever(event);
    }
  },
});
