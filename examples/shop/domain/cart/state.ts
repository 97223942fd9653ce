/** The cart's events, its state and how the events change it (commands and `decide` are in cart.ts). */
import { z } from 'zod';
import { assertNever, boundedId, cents, fromCents, type Cents, type MessageOf } from 'ledgerflow';
import type { ShippingAddress } from '../address';

const line = z.object({ itemId: z.string(), quantity: z.number().int().positive(), unitPriceCents: cents });

export const cartEvents = {
  ItemAddedToCart: z.object({ itemId: z.string(), quantity: z.number().int().positive(), unitPriceCents: cents }),
  ItemRemovedFromCart: z.object({ itemId: z.string() }),
  ItemQuantityChanged: z.object({ itemId: z.string(), quantity: z.number().int().positive() }),
  CheckoutStarted: z.object({
    orderId: z.string(),
    lines: z.array(line),
    totalCents: cents,
    shippingAddress: z.object({ line1: z.string(), city: z.string(), postalCode: z.string(), country: z.string() }),
  }),
  CheckoutFailed: z.object({ orderId: z.string(), code: z.string(), reason: z.string() }),
  /** `orderId` is absent from carts checked out before checkout became a process. */
  CartCheckedOut: z.object({ totalItems: z.number().int().positive(), totalCents: cents, orderId: z.string().optional() }),
};


export type CartEvent = MessageOf<typeof cartEvents>;

export interface CartLine {
  itemId: string;
  quantity: number;
  unitPriceCents: Cents;
}

export interface CartState {
  status: 'open' | 'checkingOut' | 'checkedOut';
  items: CartLine[];
  /** Checkouts started so far (each gets its own order id). Absent in carts from before checkout was a process. */
  checkouts?: number;
  /** The order of the checkout under way. */
  pendingOrderId?: string;
  /** Why the last checkout failed, so the customer can fix the cart and try again. */
  lastCheckoutFailure?: { orderId: string; code: string; reason: string };
}

/** The order id a cart's n-th checkout creates: the cart's id (its customer's) and n. */
export const orderIdFor = (cartId: string, checkout: number) => boundedId([cartId, String(checkout)], '.');

/** What the checkout process is given when a cart starts checking out. */
export interface CheckoutInput {
  cartId: string;
  customerId: string;
  orderId: string;
  lines: CartLine[];
  totalCents: Cents;
  shippingAddress: ShippingAddress;
  correlationId: string;
}

export const findLine = (state: CartState, id: string) => state.items.find((line) => line.itemId === id);
export const totalItems = (state: CartState) => state.items.reduce((sum, line) => sum + line.quantity, 0);
export const totalCents = (state: CartState) => state.items.reduce((sum, line) => sum + line.quantity * line.unitPriceCents, 0);

export const initialCart = (): CartState => ({ status: 'open', items: [] });

export function evolveCart(state: CartState, event: CartEvent): CartState {
  switch (event.type) {
    case 'ItemAddedToCart': {
      const { itemId: id, quantity: added, unitPriceCents } = event.payload;
      const exists = findLine(state, id);
      return {
        ...state,
        items: exists
          ? state.items.map((line) => (line.itemId === id ? { ...line, quantity: line.quantity + added } : line))
          : [...state.items, { itemId: id, quantity: added, unitPriceCents }],
      };
    }
    case 'ItemRemovedFromCart':
      return { ...state, items: state.items.filter((line) => line.itemId !== event.payload.itemId) };
    case 'ItemQuantityChanged':
      return {
        ...state,
        items: state.items.map((line) => (line.itemId === event.payload.itemId ? { ...line, quantity: event.payload.quantity } : line)),
      };
    case 'CheckoutStarted':
      return { ...state, status: 'checkingOut', checkouts: (state.checkouts ?? 0) + 1, pendingOrderId: event.payload.orderId };
    case 'CheckoutFailed': {
      const { pendingOrderId: _, ...rest } = state;
      return { ...rest, status: 'open', lastCheckoutFailure: event.payload };
    }
    case 'CartCheckedOut': {
      const { pendingOrderId: _, ...rest } = state;
      return { ...rest, status: 'checkedOut' };
    }
    default:
      return assertNever(event);
  }
}

export const isCartTerminal = (state: CartState) => state.status === 'checkedOut';

/** A short Markdown summary for the Temporal Web UI. */
export function describeCart(state: CartState): string {
  const lines = state.items.map((l) => `| ${l.itemId} | ${l.quantity} | ${fromCents(l.unitPriceCents).toFixed(2)} |`);
  const status = { open: 'open', checkingOut: `checking out (order ${state.pendingOrderId})`, checkedOut: 'checked out' }[state.status];
  const failure = state.lastCheckoutFailure ? [`last checkout failed: ${state.lastCheckoutFailure.code} — ${state.lastCheckoutFailure.reason}`, ''] : [];
  return [
    `**Cart** — ${status}, ${totalItems(state)} item(s), total ${fromCents(totalCents(state)).toFixed(2)}`,
    '',
    ...failure,
    ...(lines.length ? ['| item | qty | price |', '|---|---:|---:|', ...lines] : ['_empty_']),
  ].join('\n');
}
