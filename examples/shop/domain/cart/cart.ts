import { z } from 'zod';
import { assertNever, decimalAmount, defineAggregate, DomainError, fromCents, toCents } from 'ledgerflow';
import { cart2026_11_22 } from '../../legacy/cart-2026-11-22';
import { shippingAddress } from '../address';
import {
  cartEvents,
  describeCart,
  evolveCart,
  findLine,
  initialCart,
  isCartTerminal,
  orderIdFor,
  totalCents,
  totalItems,
  type CartLine,
  type CartState,
  type CheckoutInput,
} from './state';

const itemId = z.string().trim().min(1, { message: 'must not be empty' }).max(64, { message: 'must be at most 64 characters' });
const quantity = z
  .number()
  .int({ message: 'must be a whole number' })
  .min(1, { message: 'must be at least 1' })
  .max(99, { message: 'must be at most 99' });

const orderId = z.string().min(1).max(128);

export const cartCommands = {
  addItem: z.strictObject({ itemId, quantity, price: decimalAmount }),
  removeItem: z.strictObject({ itemId }),
  changeQuantity: z.strictObject({ itemId, quantity }),
  /** Starts the checkout process; the cart is locked until it ends. */
  checkout: z.strictObject({ shippingAddress }),
  /** Sent by the checkout process when the order is paid and its stock committed. */
  completeCheckout: z.strictObject({ orderId }),
  /** Sent by the checkout process after it compensated a failed step. */
  failCheckout: z.strictObject({ orderId, code: z.string().min(1).max(64), reason: z.string().max(500) }),
  /**
   * Sent by the customer: ends the checkout under way, whatever became of its process (even one
   * terminated before it ran a step, which no guard watches). A process still running finds the
   * cart no longer waiting for it (its completeCheckout is refused) and undoes its steps.
   */
  cancelCheckout: z.strictObject({ orderId }),
};

/** The failure a checkout the customer cancelled leaves on the cart. */
export const checkoutCancelled = { code: 'CHECKOUT_CANCELLED', reason: 'cancelled by the customer' } as const;

/** Commands a cart takes while a checkout is under way: the ones that end it. */
const endingCheckout: ReadonlySet<string> = new Set(['completeCheckout', 'failCheckout', 'cancelCheckout']);

export const cartErrorCodes = {
  ITEM_NOT_IN_CART: 'ITEM_NOT_IN_CART',
  CART_EMPTY: 'CART_EMPTY',
  QUANTITY_LIMIT: 'QUANTITY_LIMIT',
  PRICE_MISMATCH: 'PRICE_MISMATCH',
  /** The cart already has `cartLimits.maxLines` distinct items. */
  CART_FULL: 'CART_FULL',
  /** A checkout is under way: the cart takes no changes until it completes or fails. */
  CHECKOUT_IN_PROGRESS: 'CHECKOUT_IN_PROGRESS',
  /** A process answered for another checkout than the one under way. */
  CHECKOUT_MISMATCH: 'CHECKOUT_MISMATCH',
} as const;

/** The cart's own bounds: its state stays small whatever a client sends. */
export const cartLimits = {
  /** Distinct items in one cart. */
  maxLines: 100,
  /** Units of one item. */
  maxQuantity: 99,
} as const;

const { maxQuantity, maxLines } = cartLimits;

function requireLine(state: CartState, id: string): CartLine {
  const line = findLine(state, id);
  if (!line) throw new DomainError(cartErrorCodes.ITEM_NOT_IN_CART, `item '${id}' is not in the cart`);
  return line;
}

/** The checkout of `orderId` already failed (or was cancelled): reporting it again changes nothing. */
const endedBefore = (state: CartState, orderId: string) => state.lastCheckoutFailure?.orderId === orderId && state.pendingOrderId !== orderId;

function requirePending(state: CartState, orderId: string) {
  if (state.status !== 'checkingOut' || state.pendingOrderId !== orderId) {
    throw new DomainError(cartErrorCodes.CHECKOUT_MISMATCH, `no checkout of order ${orderId} is under way`);
  }
}

/** The cart: its events and state (state.ts), its commands and `decide`. */
export const cart = defineAggregate({
  name: 'cart',
  idField: 'cartId',
  events: cartEvents,
  initialState: initialCart,
  evolve: evolveCart,
  isTerminal: isCartTerminal,
  describe: describeCart,
  // Checking out is a process of its own (workflows/checkout.ts), started once per checkout.
  processes: {
    CheckoutStarted: (event) => ({
      workflowType: 'checkoutProcess',
      workflowId: `checkout:${event.payload.orderId}`,
      input: {
        cartId: event.aggregateId,
        customerId: event.aggregateId, // a cart belongs to the customer with its id
        orderId: event.payload.orderId,
        lines: event.payload.lines,
        totalCents: event.payload.totalCents,
        shippingAddress: event.payload.shippingAddress,
        correlationId: event.correlationId,
      } satisfies CheckoutInput,
    }),
  },
  commands: cartCommands,
  errorCodes: Object.values(cartErrorCodes),
  decide(state, command, { aggregateId }) {
    if (state.status === 'checkingOut' && !endingCheckout.has(command.type)) {
      throw new DomainError(cartErrorCodes.CHECKOUT_IN_PROGRESS, `checkout of order ${state.pendingOrderId} is under way; the cart changes again if it fails`);
    }
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
        if (!line && state.items.length >= maxLines) {
          throw new DomainError(cartErrorCodes.CART_FULL, `the cart already holds ${maxLines} different items; remove one to add '${id}'`);
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
      case 'checkout': {
        if (state.items.length === 0) throw new DomainError(cartErrorCodes.CART_EMPTY, 'an empty cart cannot be checked out');
        const orderId = orderIdFor(aggregateId, (state.checkouts ?? 0) + 1);
        return [{ type: 'CheckoutStarted', payload: { orderId, lines: state.items, totalCents: totalCents(state), shippingAddress: command.payload.shippingAddress } }];
      }
      case 'completeCheckout':
        requirePending(state, command.payload.orderId);
        return [{ type: 'CartCheckedOut', payload: { totalItems: totalItems(state), totalCents: totalCents(state), orderId: command.payload.orderId } }];
      case 'failCheckout':
        // Reported again (its commandId forgotten, or by the process's recovery), or the customer
        // cancelled first: that failure.
        if (endedBefore(state, command.payload.orderId)) return [];
        requirePending(state, command.payload.orderId);
        return [{ type: 'CheckoutFailed', payload: command.payload }];
      case 'cancelCheckout':
        if (endedBefore(state, command.payload.orderId)) return [];
        requirePending(state, command.payload.orderId);
        return [{ type: 'CheckoutFailed', payload: { orderId: command.payload.orderId, ...checkoutCancelled } }];
      default:
        return assertNever(command);
    }
  },

  internalCommands: ['completeCheckout', 'failCheckout'],
  // Carts started by the 2026-11-22 release decided inside the workflow: they replay with that release's rules.
  legacyDecider: cart2026_11_22,
});
