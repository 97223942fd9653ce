/**
 * The seed flow with a typed tRPC client. With `make up` running:
 *   npx tsx examples/shop/scripts/seed-flow.ts
 * The `AppRouter` type is the shop's own, exported by its ledgerflow.config.ts (`RouterOf<typeof config>`).
 */
import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import type { AppRouter } from '../ledgerflow.config';

const url = process.env.LEDGERFLOW_URL ?? 'http://127.0.0.1:3000/trpc';
const token = process.env.LEDGERFLOW_TOKEN;

const ledgerflow = createTRPCClient<AppRouter>({
  links: [httpLink({ url, headers: () => (token ? { authorization: `Bearer ${token}` } : {}) })],
});

async function main() {
  const cartId = process.argv[2] ?? 'user-123';

  // A mutation answers once the cart's workflow has decided the command.
  const added = await ledgerflow.cart.addItem.mutate({ cartId, itemId: 'product-abc', quantity: 1, price: 19.99 });
  console.log(`added: version ${added.version}`, added.events);

  // Read your write: wait (bounded) until the read model has applied that version.
  const cart = await ledgerflow.cart.get.query({ cartId, minVersion: added.version! });
  console.log(`cart ${cart.cartId}: ${cart.totalItems} item(s), total ${cart.totalPrice}`, cart.items);

  // Broken rules come back typed, with the domain's own code.
  try {
    await ledgerflow.cart.removeItem.mutate({ cartId, itemId: 'not-in-cart' });
  } catch (error) {
    if (error instanceof TRPCClientError) console.log(`rejected: ${error.data?.code} ${error.data?.domainCode}: ${error.message}`);
    else throw error;
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
