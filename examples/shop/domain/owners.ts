/**
 * Who owns what in the shop: every id a user acts on is derived from the user's id (a JWT's
 * `sub`), so ownership is read off the id, with no lookup and no window in which a new
 * aggregate has no recorded owner. A customer's id is the user's; their cart has the same id
 * (the checkout takes the cart's id as the customer's); the cart's n-th checkout creates the
 * order `<cartId>.<n>` (`orderIdFor`), and only a process creates orders.
 */
import { orderIdFor } from './cart/state';

/** A customer and a cart belong to the user with their id. */
export const ownerIsId = (aggregateId: string): string => aggregateId;

const checkoutSuffix = /\.\d+$/;

/**
 * The customer an order belongs to: its id less the checkout number. An order id that
 * `orderIdFor` shortened (a customer id over ~120 characters) or that an admin chose by hand
 * belongs to no user: only admins reach it.
 */
export function customerOfOrder(orderId: string): string | null {
  if (!checkoutSuffix.test(orderId)) return null;
  const customerId = orderId.replace(checkoutSuffix, '');
  const n = Number(orderId.slice(customerId.length + 1));
  // Only the id orderIdFor gives (so `ada.01` or a cut id is nobody's).
  return orderIdFor(customerId, n) === orderId ? customerId : null;
}
