import { initTRPC, TRPCError } from '@trpc/server';
import { ClientClosedError, ClientOfflineError, SocketClosedUnexpectedlyError } from 'redis';
import type { Client } from '@temporalio/client';
import { z } from 'zod';
import type { Config } from '../core/config';
import { RedisTimeoutError, type Redis } from '../infra/redis';
import { engineCodes } from '../core/errors';
import type { ProjectionAdmin } from '../projectors/admin';
import type { ReadModels, VersionWaiter } from '../projectors/store';
import type { CommandBus } from '../commands/bus';
import { anyCause, temporalAway } from '../commands/failures';
import type { Caller } from '../core/module';
import { isRefusal, roleRefusal, type Access, type Authenticator, type Refusal } from './access';
import { commandFacts, RejectionError, toTRPCError } from './errors';
import { apiLimits } from './limits';

/** What every procedure can reach; built once per request by the HTTP adapter or a caller. */
export interface ApiContext {
  temporal: Client;
  bus: CommandBus;
  readModels: ReadModels;
  waiter: VersionWaiter;
  admin: ProjectionAdmin;
  redis: Redis;
  rabbit: { readonly ready: boolean };
  config: Config;
  /** The bearer token the request carried (for a subscription, possibly in its connectionParams), if any. */
  token: string | null;
  /** Who a token belongs to (API_TOKENS, or a verified JWT). */
  authenticate: Authenticator;
  correlationId: string | null;
  userId: string | null;
}

/** zod's flattened error: messages for the whole input and per field. */
export interface FieldErrors {
  formErrors: string[];
  fieldErrors: Record<string, string[] | undefined>;
}

const t = initTRPC.context<ApiContext>().create({
  // No stack traces on the wire, whatever NODE_ENV says.
  isDev: false,
  // Heartbeats on every live stream; a client that hears nothing, not even them, reconnects.
  sse: { ping: { enabled: true, intervalMs: apiLimits.ssePingMs }, client: { reconnectAfterInactivityMs: apiLimits.sseClientInactivityMs } },
  errorFormatter({ shape, error }) {
    const cause = error.cause;
    const rejection = cause instanceof RejectionError ? cause.rejection : null;
    const zodError: FieldErrors | null =
      cause instanceof z.ZodError
        ? z.flattenError(cause)
        : rejection?.kind === 'INVALID_COMMAND' && rejection.details
          ? (rejection.details as unknown as FieldErrors)
          : null;
    const facts = commandFacts(cause);
    return {
      ...shape,
      message: cause instanceof z.ZodError ? summarize(zodError!) : shape.message,
      data: {
        ...shape.data,
        zodError,
        domainCode: rejection?.code ?? null,
        details: rejection && rejection.kind !== 'INVALID_COMMAND' ? (rejection.details ?? null) : null,
        /** The command this error is about: retrying with it never applies the command twice. */
        commandId: facts.commandId,
        /** Whether the same request may succeed later (a bound, a timeout, a service away). */
        retryable: facts.retryable ?? (error.code === 'SERVICE_UNAVAILABLE' || error.code === 'TIMEOUT'),
      },
    };
  },
});

export const router = t.router;
export const mergeRouters = t.mergeRouters;
export const createCallerFactory = t.createCallerFactory;
export const publicProcedure = t.procedure;

/**
 * Refuses a token that may not reach `access`: UNAUTHORIZED when missing, wrong or expired,
 * FORBIDDEN when its role falls short. What passes carries the caller on: a verified JWT's user,
 * else the user the app's `identify` named.
 */
const requires = (access: Access) =>
  t.middleware(async ({ ctx, next }) => {
    const found = await ctx.authenticate(ctx.token);
    if (isRefusal(found)) throw new TRPCError(found);
    const refused = roleRefusal(found, access);
    if (refused) throw new TRPCError(refused);
    const caller: Caller = { role: found.role, userId: found.userId ?? ctx.userId };
    return next({ ctx: { caller, userId: caller.userId } });
  });

/** Throws the refusal an access rule gave (api/access.ts), if any. */
export function enforce(refused: Refusal | null): void {
  if (refused) throw new TRPCError(refused);
}

/** A service being away is a 503 the caller may retry, not a 500. */
const unavailable = t.middleware(async ({ next }) => {
  const result = await next();
  if (result.ok || result.error.code !== 'INTERNAL_SERVER_ERROR') return result;
  const away = asUnavailable(result.error.cause);
  if (!away) return result;
  throw away;
});

/**
 * The 503 (retryable) for an error that says a service is away, naming the command it may have
 * applied; null for another failure. Redis's own: REDIS_TIMEOUT or REDIS_UNAVAILABLE.
 */
export function asUnavailable(cause: unknown): TRPCError | null {
  const away = unavailableService(cause);
  if (!away) return null;
  const { commandId } = commandFacts(cause);
  const advice = commandId ? `retry with the same commandId ${commandId} (it may have been applied)` : 'try again';
  const message = `${away} is unavailable; ${advice}`;
  if (away === 'Temporal') return new TRPCError({ code: 'SERVICE_UNAVAILABLE', message, cause });
  const code = anyCause(cause, (error) => error instanceof RedisTimeoutError) ? engineCodes.REDIS_TIMEOUT : engineCodes.REDIS_UNAVAILABLE;
  return toTRPCError({ kind: 'UNAVAILABLE', code, message }, commandId ?? undefined);
}

/** Commands, queries and subscriptions: a client or admin token (none needed when API_TOKENS is unset). */
export const clientProcedure = t.procedure.use(requires('client')).use(unavailable);
/** Operations on projections: an admin token. */
export const adminProcedure = t.procedure.use(requires('admin')).use(unavailable);

const redisDown = (error: unknown): boolean =>
  error instanceof ClientOfflineError ||
  error instanceof ClientClosedError ||
  error instanceof SocketClosedUnexpectedlyError ||
  error instanceof RedisTimeoutError;
/** The service an error (or one in its cause chain) says is away, or null for another failure. */
const unavailableService = (error: unknown): 'Redis' | 'Temporal' | null => (anyCause(error, redisDown) ? 'Redis' : temporalAway(error) ? 'Temporal' : null);

/** `invalid input: quantity: must be at least 1; price: ...` rather than zod's JSON dump. */
function summarize(errors: FieldErrors): string {
  const parts = [...errors.formErrors, ...Object.entries(errors.fieldErrors).map(([field, messages]) => `${field}: ${messages?.join(', ')}`)];
  return `invalid input: ${parts.join('; ')}`;
}
