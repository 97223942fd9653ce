/** Setting up the reference domain's story through the API: a registered customer, stocked products. */
import type { TestStack } from '../../../../test/support/stack';

export const address = { line1: '1 Main St', city: 'Berlin', postalCode: '10115', country: 'DE' };

export async function registerCustomer(stack: TestStack, customerId: string, name = 'Ada Lovelace') {
  return stack.trpc.customer.register.mutate({ customerId, name, email: `${customerId}@example.com`, wait: 'projected' });
}

export async function stock(stack: TestStack, products: Record<string, number>) {
  for (const [productId, quantity] of Object.entries(products)) await stack.trpc.inventory.receiveStock.mutate({ productId, quantity, wait: 'projected' });
}
