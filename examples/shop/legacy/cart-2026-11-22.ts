/**
 * The cart's decider as released on 2026-11-22, frozen. Runs started by that release decided
 * in workflow code (their histories hold no recorded decisions), so replaying them must decide
 * exactly as they did; they use this until their next hand-over, after which their decisions
 * are recorded and today's rules apply. Never edit it: add a newer frozen copy instead.
 */
import { z } from 'zod';
import { assertNever, defineAggregate, DomainError, cents, decimalAmount, fromCents, toCents, type Cents } from 'ledgerflow';

const itemId = z.string().trim().min(1, { message: 'must not be empty' }).max(64, { message: 'must be at most 64 characters' });
const quantity = z
  .number()
  .int({ message: 'must be a whole number' })
  .min(1, { message: 'must be at least 1' })
  .max(99, { message: 'must be at most 99' });

export const cartCommands = {
  addItem: z.strictObject({ itemId, quantity, price: decimalAmount }),
  removeItem: z.strictObject({ itemId }),
  changeQuantity: z.strictObject({ itemId, quantity }),
  checkout: z.strictObject({}),
};

export const cartEvents = {
  ItemAddedToCart: z.object({ itemId: z.string(), quantity: z.number().int().positive(), unitPriceCents: cents }),
  ItemRemovedFromCart: z.object({ itemId: z.string() }),
  ItemQuantityChanged: z.object({ itemId: z.string(), quantity: z.number().int().positive() }),
  CartCheckedOut: z.object({ totalItems: z.number().int().positive(), totalCents: cents }),
};

export const cartErrorCodes = {
  ITEM_NOT_IN_CART: 'ITEM_NOT_IN_CART',
  CART_EMPTY: 'CART_EMPTY',
  QUANTITY_LIMIT: 'QUANTITY_LIMIT',
  PRICE_MISMATCH: 'PRICE_MISMATCH',
} as const;

export interface CartLine {
  itemId: string;
  quantity: number;
  unitPriceCents: Cents;
}

export interface CartState {
  status: 'open' | 'checkedOut';
  items: CartLine[];
}

const maxQuantity = 99;

const findLine = (state: CartState, id: string) => state.items.find((line) => line.itemId === id);

function requireLine(state: CartState, id: string): CartLine {
  const line = findLine(state, id);
  if (!line) throw new DomainError(cartErrorCodes.ITEM_NOT_IN_CART, `item '${id}' is not in the cart`);
  return line;
}

export const totalItems = (state: CartState) => state.items.reduce((sum, line) => sum + line.quantity, 0);
export const totalCents = (state: CartState) => state.items.reduce((sum, line) => sum + line.quantity * line.unitPriceCents, 0);

export const cart2026_11_22 = defineAggregate({
  name: 'cart',
  idField: 'cartId',
  commands: cartCommands,
  events: cartEvents,
  errorCodes: Object.values(cartErrorCodes),
  initialState: (): CartState => ({ status: 'open', items: [] }),

  decide(state, command) {
    switch (command.type) {
      case 'addItem': {
        const { itemId: id, quantity: added, price } = command.payload;
        const unitPriceCents = toCents(price);
        const line = findLine(state, id);
        if (line && line.unitPriceCents !== unitPriceCents) {
          throw new DomainError(
            cartErrorCodes.PRICE_MISMATCH,
            `item '${id}' is in the cart at ${fromCents(line.unitPriceCents)}; remove it to add it at ${price}`,
          );
        }
        if ((line?.quantity ?? 0) + added > maxQuantity) {
          throw new DomainError(cartErrorCodes.QUANTITY_LIMIT, `item '${id}' would exceed ${maxQuantity} in the cart`);
        }
        return [{ type: 'ItemAddedToCart', payload: { itemId: id, quantity: added, unitPriceCents } }];
      }
      case 'removeItem':
        requireLine(state, command.payload.itemId);
        return [{ type: 'ItemRemovedFromCart', payload: { itemId: command.payload.itemId } }];
      case 'changeQuantity': {
        const line = requireLine(state, command.payload.itemId);
        if (line.quantity === command.payload.quantity) return [];
        return [{ type: 'ItemQuantityChanged', payload: command.payload }];
      }
      case 'checkout':
        if (state.items.length === 0) throw new DomainError(cartErrorCodes.CART_EMPTY, 'an empty cart cannot be checked out');
        return [{ type: 'CartCheckedOut', payload: { totalItems: totalItems(state), totalCents: totalCents(state) } }];
      default:
        return assertNever(command);
    }
  },

  evolve(state, event): CartState {
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
      case 'CartCheckedOut':
        return { ...state, status: 'checkedOut' };
      default:
        return assertNever(event);
    }
  },

  isTerminal: (state) => state.status === 'checkedOut',

  describe(state) {
    const lines = state.items.map((l) => `| ${l.itemId} | ${l.quantity} | ${fromCents(l.unitPriceCents).toFixed(2)} |`);
    return [
      `**Cart** — ${state.status === 'checkedOut' ? 'checked out' : 'open'}, ${totalItems(state)} item(s), total ${fromCents(totalCents(state)).toFixed(2)}`,
      '',
      ...(lines.length ? ['| item | qty | price |', '|---|---:|---:|', ...lines] : ['_empty_']),
    ].join('\n');
  },
});
