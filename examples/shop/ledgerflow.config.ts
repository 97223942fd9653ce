/**
 * The shop, Ledgerflow's reference domain: carts, customers, inventory and orders, and the
 * checkout process that reserves stock, creates the order and charges the payment.
 * `npx ledgerflow dev` in this folder runs it (`make up` at the repository's root does too).
 */
import { defineConfig, type RouterOf } from 'ledgerflow';
import { z } from 'zod';
import { cartModule, customerModule, inventoryModule, orderModule } from './domain';
import { createPaymentActivities } from './payments/activities';
import { createPaymentClient } from './payments/client';
import { checkoutProcess, checkoutRecovery } from './processes/checkout';

/** The shop's own setting: where the checkout charges payments (the stand-in gateway locally). */
const paymentGatewayUrl = z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:3100');

const config = defineConfig({
  modules: { cart: cartModule, customer: customerModule, inventory: inventoryModule, order: orderModule },
  processes: { checkoutProcess, checkoutRecovery },
  activities: ({ env }) => createPaymentActivities(createPaymentClient(paymentGatewayUrl.parse(env.PAYMENT_GATEWAY_URL || undefined))),
  // `ledgerflow dev` runs the stand-in payment gateway beside the stack.
  dev: { services: { payments: ['node', '--import', 'tsx', 'payments/serve.ts'] } },
});

export default config;

/** The shop's API, for its typed clients: `createLedgerflowClient<AppRouter>(...)`. */
export type AppRouter = RouterOf<typeof config>;
