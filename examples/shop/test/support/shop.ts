/**
 * The shop's stack for its e2e tests: the stand-in payment gateway the checkout process charges,
 * and the shop on `ledgerflow/testing/stack` with the gateway's address in its activities' env.
 * Setting up the story through the API: a registered customer, stocked products.
 */
import { join } from 'node:path';
import { startTestStack, type TestStack, type TestStackOptions } from 'ledgerflow/testing/stack';
import type { AppRouter } from '../../ledgerflow.config';
import { startPaymentGateway, type PaymentGateway } from '../../payments/gateway';

export const shopConfigPath = join(__dirname, '..', '..', 'ledgerflow.config.ts');

export interface ShopStack extends TestStack<AppRouter> {
  /** The gateway the checkout process charges: its charges, the requests it received, its behavior (changeable). */
  payments: PaymentGateway;
}

export async function startShopStack(options: Omit<TestStackOptions, 'config'> = {}): Promise<ShopStack> {
  const payments = await startPaymentGateway();
  let stack: TestStack<AppRouter>;
  try {
    stack = await startTestStack<AppRouter>({ ...options, config: shopConfigPath, env: { PAYMENT_GATEWAY_URL: payments.url, ...options.env } });
  } catch (error) {
    await payments.close();
    throw error;
  }
  const stopStack = stack.stop;
  return Object.assign(stack, {
    payments,
    async stop() {
      await stopStack();
      await payments.close();
    },
  });
}

export const address = { line1: '1 Main St', city: 'Berlin', postalCode: '10115', country: 'DE' };

export async function registerCustomer(stack: TestStack<AppRouter>, customerId: string, name = 'Ada Lovelace') {
  return stack.trpc.customer.register.mutate({ customerId, name, email: `${customerId}@example.com`, wait: 'projected' });
}

export async function stock(stack: TestStack<AppRouter>, products: Record<string, number>) {
  for (const [productId, quantity] of Object.entries(products)) await stack.trpc.inventory.receiveStock.mutate({ productId, quantity, wait: 'projected' });
}
