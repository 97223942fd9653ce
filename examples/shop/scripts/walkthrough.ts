/**
 * The reference domain's whole story with a typed tRPC client: a customer, two stocked
 * products, a cart, a checkout run by a process, the order in the customer's active orders,
 * shipped and completed — and the failure stories (out of stock, payment declined, inactive
 * customer). With `make up` running:
 *   npx tsx examples/shop/scripts/walkthrough.ts
 * The `AppRouter` type is the shop's own, exported by its ledgerflow.config.ts (`RouterOf<typeof config>`).
 */
import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import type { AppRouter } from '../ledgerflow.config';
import type { CartReadModel } from '../domain';

const url = process.env.LEDGERFLOW_URL ?? 'http://127.0.0.1:3000/trpc';
const token = process.env.LEDGERFLOW_TOKEN;
const shop = createTRPCClient<AppRouter>({ links: [httpLink({ url, headers: () => (token ? { authorization: `Bearer ${token}` } : {}) })] });

const run = process.argv[2] ?? Date.now().toString(36); // ids unique to this run
const address = { line1: '1 Analytical Way', city: 'London', postalCode: 'N1 7AA', country: 'GB' };

/**
 * Starts a checkout, then waits until the cart says how it ended: the process answers the cart
 * with one more command (completeCheckout or failCheckout), so the cart moves past the version
 * at which its checkout started.
 */
async function checkout(cartId: string): Promise<CartReadModel> {
  const started = await shop.cart.checkout.mutate({ cartId, shippingAddress: address });
  for (let attempt = 0; attempt < 12; attempt++) {
    try {
      // minVersion waits (up to 5 s per call) until the read model has that version.
      return await shop.cart.get.query({ cartId, minVersion: started.version! + 1 });
    } catch (error) {
      if (!(error instanceof TRPCClientError && error.data?.code === 'TIMEOUT')) throw error;
    }
  }
  throw new Error(`checkout of ${cartId} did not settle`);
}

async function main() {
  // 1. A customer (the cart id is the customer's id) and two stocked products.
  const customerId = `ada-${run}`;
  await shop.customer.register.mutate({ customerId, name: 'Ada Lovelace', email: 'ada@example.com' });
  const [book, lamp] = [`book-${run}`, `lamp-${run}`];
  await shop.inventory.receiveStock.mutate({ productId: book, quantity: 10 });
  await shop.inventory.receiveStock.mutate({ productId: lamp, quantity: 1, wait: 'projected' });

  // 2. Fill the cart and check out: the cart starts the checkout process and is locked meanwhile.
  await shop.cart.addItem.mutate({ cartId: customerId, itemId: book, quantity: 2, price: 12.5 });
  await shop.cart.addItem.mutate({ cartId: customerId, itemId: lamp, quantity: 1, price: 30 });
  const cart = await checkout(customerId);
  console.log(`checkout: ${cart.status}, order ${cart.orderId}`);

  // 3. The order appears among the customer's active orders, with the customer's name. (Read
  //    models follow the log independently: `minVersion` waits until this one has the order.)
  const orderId = cart.orderId!;
  await shop.order.get.query({ orderId, minVersion: 1 });
  const {
    items: [active],
  } = await shop.order.activeForCustomer.query({ customerId });
  console.log(`active order ${active?.orderId}: ${active?.itemCount} item(s), ${active?.total}, for ${active?.customerName}`);
  const stock = await shop.inventory.get.query({ productId: book, minVersion: 3 }); // received, reserved, committed
  console.log(`${book}: on hand ${stock.onHand}, reserved ${stock.reserved}, available ${stock.available}`);

  // 4. A rename reaches every summary of the customer's orders.
  const renamed = await shop.customer.rename.mutate({ customerId, name: 'Ada King', wait: 'projected' });
  console.log(`renamed at version ${renamed.version}: ${(await shop.order.get.query({ orderId })).customerName}`);

  // 5. Ship and complete it: it leaves the active orders; a completed order takes no more commands.
  await shop.order.ship.mutate({ orderId });
  await shop.order.complete.mutate({ orderId, wait: 'projected' });
  console.log(`active orders after completion: ${(await shop.order.activeForCustomer.query({ customerId })).items.length}`);

  // Failure stories: each checkout compensates — no reservation stays behind — and the cart says why.
  // Out of stock: the lamp is gone.
  const bob = `bob-${run}`;
  await shop.customer.register.mutate({ customerId: bob, name: 'Bob', email: 'bob@example.com' });
  await shop.cart.addItem.mutate({ cartId: bob, itemId: lamp, quantity: 1, price: 30 });
  console.log(`out of stock: ${(await checkout(bob)).lastCheckoutFailure?.code}`);

  // Payment declined: the stand-in gateway declines amounts above 1,000.00 (PAYMENT_DECLINE_ABOVE_CENTS).
  await shop.cart.removeItem.mutate({ cartId: bob, itemId: lamp });
  await shop.cart.addItem.mutate({ cartId: bob, itemId: book, quantity: 99, price: 12.5 });
  await shop.inventory.receiveStock.mutate({ productId: book, quantity: 100 });
  const declined = await checkout(bob);
  const declinedOrder = await shop.order.get.query({ orderId: declined.lastCheckoutFailure!.orderId, minVersion: 2 }); // created, cancelled
  console.log(`payment declined: ${declined.lastCheckoutFailure?.code}; order ${declinedOrder.status}`);

  // Inactive customer: refused with the domain's code, through the API and through a checkout.
  await shop.customer.deactivate.mutate({ customerId: bob });
  try {
    await shop.order.create.mutate({ orderId: `direct-${run}`, customerId: bob, items: [{ itemId: book, quantity: 1, price: 12.5 }], shippingAddress: address });
  } catch (error) {
    if (!(error instanceof TRPCClientError)) throw error;
    console.log(`inactive customer: ${error.data?.code} ${error.data?.domainCode}: ${error.message}`);
  }
  await shop.cart.changeQuantity.mutate({ cartId: bob, itemId: book, quantity: 1 });
  console.log(`checkout by an inactive customer: ${(await checkout(bob)).lastCheckoutFailure?.code}`);
  // The process released its reservation before it told the cart: by then the book's last event is decided.
  const after = await shop.inventory.get.query({ productId: book, minVersion: 8 }); // + received, reserved, released, reserved, released
  console.log(`${book}: reserved ${after.reserved} after every failed checkout`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
