/**
 * A stand-in payment gateway, run as a service of its own (payments/serve.ts) so the
 * checkout process talks to it the way it would talk to a real one: over HTTP, with an
 * idempotency key per charge. It declines amounts above a limit and can be made slow or
 * failing (at start, from the environment, or at runtime with PUT /behavior) to exercise the
 * process's retries and compensation.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
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
  status: 'captured' | 'declined' | 'refunded';
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

async function body(req: IncomingMessage): Promise<unknown> {
  let text = '';
  for await (const chunk of req) {
    text += String(chunk);
    if (text.length > 64 * 1024) throw new Error('body too large');
  }
  return text ? JSON.parse(text) : {};
}

const send = (res: ServerResponse, status: number, payload: unknown) =>
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(payload));

export async function startPaymentGateway(options: { port?: number; host?: string; behavior?: Partial<GatewayBehavior> } = {}): Promise<PaymentGateway> {
  const behavior: GatewayBehavior = { declineAboveCents: 100_000, delayMs: 0, failNext: 0, ...options.behavior };
  const charges = new Map<string, Charge>();
  const chargeRequests: ReceivedCharge[] = [];
  const chargeRequestOf = new WeakMap<ServerResponse, ReceivedCharge>();
  let counter = 0;

  const failing = () => {
    if (behavior.failNext <= 0) return false;
    behavior.failNext -= 1;
    return true;
  };

  const received = (req: IncomingMessage): ReceivedCharge => {
    const seen: ReceivedCharge = { idempotencyKey: String(req.headers['idempotency-key'] ?? '') };
    chargeRequests.push(seen);
    if (chargeRequests.length > chargesKept) chargeRequests.shift();
    return seen;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/health') return send(res, 200, { ok: true });
    if (req.method === 'PUT' && path === '/behavior') {
      const parsed = gatewayBehavior.partial().safeParse(await body(req));
      if (!parsed.success) return send(res, 400, { error: z.flattenError(parsed.error) });
      Object.assign(behavior, parsed.data);
      return send(res, 200, behavior);
    }
    if (req.method === 'GET' && path?.startsWith('/charges/')) {
      const charge = charges.get(decodeURIComponent(path.slice('/charges/'.length)));
      return charge ? send(res, 200, charge) : send(res, 404, { error: 'no such charge' });
    }
    // A request is read in full before the delay: like a real gateway, one received is carried out even if its caller goes away meanwhile.
    const requestBody = req.method === 'POST' ? await body(req) : undefined;
    if (req.method === 'POST' && path === '/charges') chargeRequestOf.set(res, received(req));
    if (behavior.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, behavior.delayMs));
    if (req.method === 'POST' && path === '/charges') {
      const key = req.headers['idempotency-key'];
      if (typeof key !== 'string' || key.length === 0 || key.length > 200) return send(res, 400, { error: 'an Idempotency-Key header is required' });
      const parsed = chargeRequest.safeParse(requestBody);
      if (!parsed.success) return send(res, 400, { error: z.flattenError(parsed.error) });
      const known = charges.get(key);
      if (known) return send(res, known.status === 'declined' ? 402 : 200, known);
      if (failing()) return send(res, 503, { error: 'the gateway is unavailable (simulated)' });
      const declined = parsed.data.amountCents > behavior.declineAboveCents;
      const charge: Charge = {
        chargeId: `ch_${++counter}`,
        idempotencyKey: key,
        amountCents: parsed.data.amountCents,
        customerId: parsed.data.customerId,
        status: declined ? 'declined' : 'captured',
        ...(declined ? { reason: `amount above the limit of ${behavior.declineAboveCents} cents` } : {}),
      };
      charges.set(key, charge);
      if (charges.size > chargesKept) charges.delete(charges.keys().next().value!);
      return send(res, declined ? 402 : 201, charge);
    }
    if (req.method === 'POST' && path === '/refunds') {
      const parsed = refundRequest.safeParse(requestBody);
      if (!parsed.success) return send(res, 400, { error: z.flattenError(parsed.error) });
      if (failing()) return send(res, 503, { error: 'the gateway is unavailable (simulated)' });
      const charge = charges.get(parsed.data.idempotencyKey);
      if (!charge) return send(res, 404, { error: 'no such charge' });
      if (charge.status === 'captured') charge.status = 'refunded';
      return send(res, 200, charge);
    }
    return send(res, 404, { error: 'not found' });
  };

  const server = createServer((req, res) => {
    handle(req, res)
      .catch((error: unknown) => {
        if (!res.headersSent) send(res, 400, { error: error instanceof Error ? error.message : String(error) });
      })
      .finally(() => {
        const seen = chargeRequestOf.get(res);
        if (seen) seen.answered = res.statusCode;
      });
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://${host}:${port}`,
    behavior,
    charges,
    chargeRequests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
