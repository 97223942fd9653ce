/**
 * What every /trpc request passes before tRPC runs any of it: a cap on a batch's size, the
 * caller's rate limit (each call of a batch counts), and a slot among the live subscriptions.
 * Refusals are typed answers in tRPC's error shape: 400 BATCH_TOO_LARGE, 429 RATE_LIMITED or
 * SUBSCRIPTION_LIMIT (retryable, with Retry-After).
 */
import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../core/config';
import { engineCodes } from '../core/errors';
import { bearerToken, isRefusal, roleOf, type Authenticator } from './access';
import type { RateLimiter } from './rate-limit';
import type { SubscriptionSlots } from './subscriptions';

export interface Admission {
  config: Config;
  /** Who a token names (a JWT's user): its calls count against that user's budget. */
  authenticate: Authenticator;
  limiter: RateLimiter;
  slots: SubscriptionSlots;
  /** Whether a procedure path names a subscription. */
  isSubscription: (path: string) => boolean;
  /** Counts a refusal in the API's metrics. */
  refused: (path: string | undefined, code: string) => void;
}

/** How long a refused subscription is told to wait before trying again. */
const subscriptionRetryAfterS = 5;

/**
 * Who is asking, for the limits: the user a verified JWT names, else a static token the API knows
 * (hashed, never kept), else the address (an unknown or missing token, or an API without tokens).
 * An unknown or forged token cannot buy a fresh budget.
 */
export async function callerOf(request: FastifyRequest, config: Config, authenticate: Authenticator): Promise<string> {
  const token = bearerToken(request.headers.authorization) ?? connectionToken(request);
  if (token === null) return `ip:${request.ip}`;
  if (config.API_TOKENS.length > 0 && roleOf(config.API_TOKENS, token) !== null) {
    return `token:${createHash('sha256').update(token).digest('base64url').slice(0, 22)}`;
  }
  const found = await authenticate(token).catch(() => null);
  if (found && !isRefusal(found) && found.userId !== null) return `user:${createHash('sha256').update(found.userId).digest('base64url').slice(0, 22)}`;
  return `ip:${request.ip}`;
}

/** What a subscription's `connectionParams` query parameter names as its token: any JSON value, or undefined. */
function connectionParamsToken(request: FastifyRequest): unknown {
  const raw = (request.query as { connectionParams?: unknown }).connectionParams;
  if (typeof raw !== 'string') return undefined;
  try {
    return (JSON.parse(raw) as { token?: unknown } | null)?.token;
  } catch {
    return undefined; // not JSON: tRPC refuses it (400)
  }
}

/** A subscription's token from tRPC's `connectionParams` query parameter, if any. */
function connectionToken(request: FastifyRequest): string | null {
  const token = connectionParamsToken(request);
  return typeof token === 'string' ? token : null;
}

/** Whether a subscription's connectionParams name a token that is not a string (a number, an object, ...). */
function connectionTokenMalformed(request: FastifyRequest): boolean {
  const token = connectionParamsToken(request);
  return token !== undefined && token !== null && typeof token !== 'string';
}

/** The procedure paths of a request: a batch (`?batch=1`) names several, comma-separated. */
function pathsOf(request: FastifyRequest): string[] {
  const path = (request.params as { path?: string }).path ?? '';
  return (request.query as { batch?: unknown }).batch === '1' ? path.split(',') : [path];
}

/** The commandId a single call's JSON body names, so a refusal tells its sender which command to resend. */
export function commandIdOf(request: FastifyRequest): string | null {
  try {
    const body = typeof request.body === 'string' ? (JSON.parse(request.body) as { commandId?: unknown } | null) : null;
    return typeof body?.commandId === 'string' ? body.commandId : null;
  } catch {
    return null; // not JSON: nothing to name
  }
}

function refuse(request: FastifyRequest, reply: FastifyReply, status: number, trpcCode: string, domainCode: string | null, message: string, retryAfterS?: number) {
  if (retryAfterS !== undefined) reply.header('retry-after', String(retryAfterS));
  const retryable = retryAfterS !== undefined;
  const data = { code: trpcCode, httpStatus: status, domainCode, retryable, commandId: commandIdOf(request) };
  return reply.code(status).send({ error: { message, data } });
}

/** Admits a /trpc request or answers its refusal (a Fastify preHandler hook: the body is read, nothing of it ran). */
export async function admit(request: FastifyRequest, reply: FastifyReply, admission: Admission): Promise<void> {
  const { config, limiter, slots } = admission;
  const paths = pathsOf(request);
  const path = paths.length === 1 ? paths[0] : undefined;
  if (paths.length > config.API_MAX_BATCH) {
    admission.refused(undefined, 'BAD_REQUEST');
    return refuse(request, reply, 400, 'BAD_REQUEST', engineCodes.BATCH_TOO_LARGE, `a batch of ${paths.length} calls; at most ${config.API_MAX_BATCH}`);
  }
  if (path !== undefined && admission.isSubscription(path) && connectionTokenMalformed(request)) {
    admission.refused(path, 'UNAUTHORIZED');
    return refuse(request, reply, 401, 'UNAUTHORIZED', null, 'connectionParams.token must be a string: the token, as the Authorization header would carry it');
  }
  const caller = await callerOf(request, config, admission.authenticate);
  const decision = await limiter.take(caller, paths.length);
  if (!decision.allowed) {
    admission.refused(path, 'TOO_MANY_REQUESTS');
    const retryAfterS = Math.ceil(decision.retryAfterMs / 1000);
    return refuse(request, reply, 429, 'TOO_MANY_REQUESTS', engineCodes.RATE_LIMITED, `rate limit of ${config.API_RATE_LIMIT} calls per ${config.API_RATE_LIMIT_WINDOW_S} s reached; retry in ${retryAfterS} s`, retryAfterS);
  }
  if (path === undefined || !admission.isSubscription(path)) return;
  const slot = slots.acquire(caller);
  if ('refused' in slot) {
    admission.refused(path, 'TOO_MANY_REQUESTS');
    const message =
      slot.refused === 'caller'
        ? `this caller holds ${config.API_SUBSCRIPTIONS_PER_CALLER} live subscriptions already (API_SUBSCRIPTIONS_PER_CALLER)`
        : `this API process holds ${config.API_SUBSCRIPTIONS_TOTAL} live subscriptions already (API_SUBSCRIPTIONS_TOTAL)`;
    return refuse(request, reply, 429, 'TOO_MANY_REQUESTS', engineCodes.SUBSCRIPTION_LIMIT, message, subscriptionRetryAfterS);
  }
  reply.raw.once('close', slot.release);
}
