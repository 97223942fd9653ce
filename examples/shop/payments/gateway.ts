/**
 * A stand-in payment gateway, run as a service of its own (payments/serve.ts) so the
 * checkout process talks to it the way it would talk to a real one: over HTTP, with an
 * idempotency key per charge. It declines amounts above a limit and can be made slow or
 * failing (at start, from the environment, or at runtime with PUT /behavior) to exercise the
 * process's retries and compensation.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { z } from 'zod';

export const gatewayBehavior = z.object({
  /** Charges above this many cents are declined (402). */
  declineAboveCents: z.number().int().nonnegative(),
  /** Every answer waits this long. */
  delayMs: z.number().int().nonnegative().max(120_000),
  /** The next this-many charge or refund requests fail with 503 (then it recovers). */
  failNext: z.number().int().nonnegative(),
});

export type GatewayBehavior = z.infer<typeof gatewayBehavior>;

export interface Charge {
  chargeId: string;
  idempotencyKey: string;
  amountCents: number;
  customerId: string;
  /** `voided`: refunded before any charge arrived under its key; a later charge under it is declined. */
  status: 'captured' | 'declined' | 'refunded' | 'voided';
  reason?: string;
}

/** A charge request the gateway has read in full (before any delay), and the status it answered once it did. */
export interface ReceivedCharge {
  idempotencyKey: string;
  answered?: number;
}

const chargeRequest = z.object({ amountCents: z.number().int().positive(), customerId: z.string().min(1), description: z.string().max(500).optional() });
const refundRequest = z.object({ idempotencyKey: z.string().min(1).max(200) });

/** Charges the gateway remembers (by idempotency key); the oldest are forgotten first. */
const chargesKept = 100_000;

export interface PaymentGateway {
  server: Server;
  url: string;
  behavior: GatewayBehavior;
  charges: Map<string, Charge>;
  /** Every charge request received (oldest first, bounded like `charges`), answered or still open. */
  chargeRequests: readonly ReceivedCharge[];
  close(): Promise<void>;
}

export async function startPaymentGateway(options: { port?: number; host?: string; behavior?: Partial<GatewayBehavior> } = {}): Promise<PaymentGateway> {
  const behavior: GatewayBehavior = { declineAboveCents: 100_000, delayMs: 0, failNext: 0, ...options.behavior };
  const charges = new Map<string, Charge>();
  const chargeRequests: ReceivedCharge[] = [];
  let counter = 0;

  const failing = () => {
    if (behavior.failNext <= 0) return false;
    behavior.failNext -= 1;
    return true;
  };
  const delay = () => (behavior.delayMs > 0 ? new Promise((resolve) => setTimeout(resolve, behavior.delayMs)) : undefined);

  const remember = (made: Charge) => {
    charges.set(made.idempotencyKey, made);
    if (charges.size > chargesKept) charges.delete(charges.keys().next().value!);
  };

  /** A charge's answer: status and body. */
  const charge = (key: unknown, body: unknown): [number, unknown] => {
    if (typeof key !== 'string' || key.length === 0 || key.length > 200) return [400, { error: 'an Idempotency-Key header is required' }];
    const parsed = chargeRequest.safeParse(body);
    if (!parsed.success) return [400, { error: z.flattenError(parsed.error) }];
    const known = charges.get(key);
    if (known) return [known.status === 'declined' || known.status === 'voided' ? 402 : 200, known];
    if (failing()) return [503, { error: 'the gateway is unavailable (simulated)' }];
    const declined = parsed.data.amountCents > behavior.declineAboveCents;
    const made: Charge = {
      chargeId: `ch_${++counter}`,
      idempotencyKey: key,
      amountCents: parsed.data.amountCents,
      customerId: parsed.data.customerId,
      status: declined ? 'declined' : 'captured',
      ...(declined ? { reason: `amount above the limit of ${behavior.declineAboveCents} cents` } : {}),
    };
    remember(made);
    return [declined ? 402 : 201, made];
  };

  // Fastify reads each request in full (JSON, up to 64 KB) before its handler: like a real
  // gateway, one received is carried out even if its caller goes away during the delay.
  const server = Fastify({ bodyLimit: 64 * 1024, forceCloseConnections: true });

  server.get('/health', async () => ({ ok: true }));
  server.put('/behavior', async (request, reply) => {
    const parsed = gatewayBehavior.partial().safeParse(request.body);
    if (!parsed.success) return reply.code(400).send({ error: z.flattenError(parsed.error) });
    Object.assign(behavior, parsed.data);
    return behavior;
  });
  server.get<{ Params: { key: string } }>('/charges/:key', async (request, reply) => {
    const known = charges.get(request.params.key);
    return known ?? reply.code(404).send({ error: 'no such charge' });
  });

  server.post('/charges', async (request, reply) => {
    const key = request.headers['idempotency-key'];
    const seen: ReceivedCharge = { idempotencyKey: typeof key === 'string' ? key : '' };
    chargeRequests.push(seen);
    if (chargeRequests.length > chargesKept) chargeRequests.shift();
    await delay();
    const [status, body] = charge(key, request.body);
    // Recorded here: the caller may have gone away meanwhile.
    seen.answered = status;
    return reply.code(status).send(body);
  });

  server.post('/refunds', async (request, reply) => {
    await delay();
    const parsed = refundRequest.safeParse(request.body);
    if (!parsed.success) return reply.code(400).send({ error: z.flattenError(parsed.error) });
    if (failing()) return reply.code(503).send({ error: 'the gateway is unavailable (simulated)' });
    const charge = charges.get(parsed.data.idempotencyKey);
    if (!charge) {
      // A refund that overtakes its charge (the caller gave up waiting) voids the key, as real
      // gateways cancel a payment intent: the charge, when it arrives, is declined.
      const voided: Charge = { chargeId: `void_${++counter}`, idempotencyKey: parsed.data.idempotencyKey, amountCents: 0, customerId: '', status: 'voided', reason: 'refunded before it was charged' };
      remember(voided);
      return voided;
    }
    if (charge.status === 'captured') charge.status = 'refunded';
    return charge;
  });
  server.setNotFoundHandler((_request, reply) => reply.code(404).send({ error: 'not found' }));

  const host = options.host ?? '127.0.0.1';
  await server.listen({ port: options.port ?? 0, host });
  const { port } = server.server.address() as AddressInfo;
  return {
    server: server.server,
    url: `http://${host}:${port}`,
    behavior,
    charges,
    chargeRequests,
    close: () => server.close(),
  };
}
