/**
 * Compile-time test of the generated router (checked by `npm run typecheck`, part of make test).
 * Every `@ts-expect-error` must be an error: if the types went loose, tsc reports the directive
 * as unused and the build fails.
 */
import { createTRPCClient, httpLink } from '@trpc/client';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import type { CommandResult } from 'ledgerflow';
import type { CartReadModel, OrderSummary } from '../../examples/shop/domain';
import type { AppRouter } from '../../examples/shop/ledgerflow.config';

const client = createTRPCClient<AppRouter>({ links: [httpLink({ url: 'http://127.0.0.1:3000/trpc' })] });

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const expectType = <T extends true>(_: T) => undefined;

export async function typedClientCompiles() {
  const added = await client.cart.addItem.mutate({ cartId: 'c', itemId: 'a', quantity: 1, price: 1.5 });
  expectType<Equal<typeof added, CommandResult>>(true);
  const version: number | null = added.version;

  const cart = await client.cart.get.query({ cartId: 'c', minVersion: 1 });
  expectType<Equal<typeof cart, CartReadModel>>(true);
  const total: number = cart.totalPrice;

  const shippingAddress = { line1: '1 Main St', city: 'Berlin', postalCode: '10115', country: 'DE' };
  await client.cart.checkout.mutate({ cartId: 'c', shippingAddress, expectedVersion: 3, commandId: 'k', wait: 'projected' });
  await client.customer.register.mutate({ customerId: 'c', name: 'Ada', email: 'ada@example.com' });
  await client.inventory.receiveStock.mutate({ productId: 'p', quantity: 10 });
  const stock = await client.inventory.get.query({ productId: 'p' });
  const available: number = stock.available;
  const active = await client.order.activeForCustomer.query({ customerId: 'c' });
  expectType<Equal<typeof active, OrderSummary[]>>(true);
  const open = await client.cart.listOpen.query({ limit: 5 });
  expectType<Equal<typeof open, CartReadModel[]>>(true);
  await client.cart.removeItem.mutate({ cartId: 'c', itemId: 'a', wait: 'none' });
  const health = await client.system.health.query();
  const ok: boolean = health.ok;
  return [version, total, ok, available];
}

export async function wrongInputsDoNotCompile() {
  // @ts-expect-error quantity is a number
  await client.cart.addItem.mutate({ cartId: 'c', itemId: 'a', quantity: '1', price: 1 });
  // @ts-expect-error price is required
  await client.cart.addItem.mutate({ cartId: 'c', itemId: 'a', quantity: 1 });
  // @ts-expect-error the id field is cartId
  await client.cart.addItem.mutate({ id: 'c', itemId: 'a', quantity: 1, price: 1 });
  const shippingAddress = { line1: '1 Main St', city: 'Berlin', postalCode: '10115', country: 'DE' };
  // @ts-expect-error wait takes none | processed | projected
  await client.cart.checkout.mutate({ cartId: 'c', shippingAddress, wait: 'eventually' });
  // @ts-expect-error checkout needs a shipping address
  await client.cart.checkout.mutate({ cartId: 'c' });
  // @ts-expect-error only the checkout process completes a checkout: not offered to clients
  await client.cart.completeCheckout.mutate({ cartId: 'c', orderId: 'o' });
  // @ts-expect-error the customer's id field is customerId
  await client.order.activeForCustomer.query({ cartId: 'c' });
  // @ts-expect-error expectedVersion is a number
  await client.cart.checkout.mutate({ cartId: 'c', shippingAddress, expectedVersion: 'v1' });
  // @ts-expect-error no such procedure
  await client.cart.emptyCart.mutate({ cartId: 'c' });
  // @ts-expect-error no such aggregate
  await client.basket.get.query({ basketId: 'b' });
  // @ts-expect-error get is a query, not a mutation
  await client.cart.get.mutate({ cartId: 'c' });
  const cart = await client.cart.get.query({ cartId: 'c' });
  // @ts-expect-error the read model has no such field
  cart.discount;
}

// The input and output types a server-side caller or a form library would derive.
type Inputs = inferRouterInputs<AppRouter>;
type Outputs = inferRouterOutputs<AppRouter>;
expectType<Equal<Inputs['cart']['changeQuantity']['quantity'], number>>(true);
expectType<Equal<Outputs['cart']['get']['status'], 'open' | 'checking_out' | 'checked_out'>>(true);
expectType<Equal<Inputs['order']['create']['shippingAddress']['country'], string>>(true);
expectType<Equal<Outputs['order']['get']['customerName'], string | null>>(true);
