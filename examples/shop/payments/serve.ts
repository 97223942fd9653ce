/**
 * The stand-in payment gateway (gateway.ts) as a service of its own, for `make up` and `npm run payment-gateway`.
 * PAYMENT_GATEWAY_PORT (3100), PAYMENT_DECLINE_ABOVE_CENTS (100000), PAYMENT_DELAY_MS (0),
 * PAYMENT_FAIL_NEXT (0); change them at runtime with `PUT /behavior`.
 */
import { z } from 'zod';
import { startPaymentGateway } from './gateway';

const settings = z.object({
  PAYMENT_GATEWAY_PORT: z.coerce.number().int().min(0).max(65535).default(3100),
  /** 0.0.0.0 in a container, so the worker reaches it. */
  PAYMENT_GATEWAY_HOST: z.string().min(1).default('127.0.0.1'),
  PAYMENT_DECLINE_ABOVE_CENTS: z.coerce.number().int().nonnegative().default(100_000),
  PAYMENT_DELAY_MS: z.coerce.number().int().nonnegative().default(0),
  PAYMENT_FAIL_NEXT: z.coerce.number().int().nonnegative().default(0),
});

async function main() {
  const env = settings.parse(process.env);
  const gateway = await startPaymentGateway({
    port: env.PAYMENT_GATEWAY_PORT,
    host: env.PAYMENT_GATEWAY_HOST,
    behavior: { declineAboveCents: env.PAYMENT_DECLINE_ABOVE_CENTS, delayMs: env.PAYMENT_DELAY_MS, failNext: env.PAYMENT_FAIL_NEXT },
  });
  console.log(JSON.stringify({ msg: 'payment gateway (stand-in) listening', url: gateway.url, behavior: gateway.behavior }));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void gateway.close().then(() => process.exit(0)));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
