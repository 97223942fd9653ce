/**
 * What Ledgerflow's procedures reach, built once per process from an app's config: the
 * connections, the command bus, the read models. `startApiServer` serves it; an app that
 * registers `ledgerflowFastify` on its own Fastify server hands it to the plugin, and one that
 * mounts `createRouter(config)` in its own tRPC router builds it with `createLedgerflowContext`
 * and hands `context(request)` to tRPC with its own context fields.
 */
import { createCommandBus, type CommandBus } from '../commands/bus';
import { projectionsOf, type AnyAppConfig } from '../core/app';
import type { Config } from '../core/config';
import type { AnyProjection } from '../core/projection';
import type { Logger } from '../infra/logger';
import { connectRabbit } from '../infra/rabbit';
import { closeRedis, createRedis, withDeadlines } from '../infra/redis';
import { connectTemporalLazily } from '../infra/temporal';
import { createProjectionAdmin, type ProjectionAdmin } from '../projectors/admin';
import { createReadModels, createVersionWaiter } from '../projectors/store';
import { createAuthenticator } from './access';
import { apiLimits } from './limits';
import type { ApiContext } from './trpc';
import { sleep } from '../infra/deadline';

/** Who is asking, as the app's own authentication found it. */
export interface RequestIdentity {
  /** The bearer token: one of API_TOKENS, or a JWT (neither configured: any caller is an admin). */
  token?: string | null;
  correlationId?: string | null;
  /** Reaches each command's metadata, so `decide` and the log know who sent it, and owner rules; a verified JWT's `sub` wins over it. */
  userId?: string | null;
}

export interface LedgerflowContext {
  /** The context of one request: give it to tRPC's createContext, spread into the app's own. */
  context(request?: RequestIdentity): ApiContext;
  readonly bus: CommandBus;
  readonly admin: ProjectionAdmin;
  /** Closes every connection (after the requests in flight were answered). */
  close(): Promise<void>;
}

/**
 * Connects to Temporal, Redis and RabbitMQ for an app's API. Returns at once: commands need only
 * Temporal (its connection opens on first use), queries only Redis (its clients reconnect by
 * themselves); a service that is away answers 503 until it is back.
 */
export function createLedgerflowContext(app: AnyAppConfig, config: Config, log: Logger, options: { projections?: readonly AnyProjection[] } = {}): LedgerflowContext {
  const temporal = connectTemporalLazily(config);
  const redis = createRedis(config.REDIS_URL, 'ledgerflow-api', log, { failFast: true });
  const subscriber = createRedis(config.REDIS_URL, 'ledgerflow-api-subscriber', log);
  for (const client of [redis, subscriber]) client.connect().catch((err: unknown) => log.warn({ err }, 'redis not reachable yet; reconnecting in the background'));
  const rabbit = connectRabbit(config, 'api', log);
  // Every call the API makes to Redis has a deadline: a paused Redis answers 503, it never piles requests up.
  const timedRedis = withDeadlines(redis, { timeoutMs: config.API_REDIS_TIMEOUT_MS, maxPending: apiLimits.redisPendingCalls });
  const readModels = createReadModels(timedRedis, config.REDIS_PREFIX);
  const waiter = createVersionWaiter(subscriber, readModels, config.REDIS_PREFIX, (err) => log.warn({ err }, 'subscribing to read-model notices failed'));
  const bus = createCommandBus(temporal, {
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    timeoutMs: config.COMMAND_TIMEOUT_MS,
    maxQueuedPerAggregate: config.COMMAND_QUEUE_PER_AGGREGATE,
    maxQueued: config.COMMAND_QUEUE_TOTAL,
    commandIdRetentionMs: config.COMMAND_ID_RETENTION_HOURS * 3_600_000,
    log,
  });
  const admin = createProjectionAdmin(timedRedis, config.REDIS_PREFIX, options.projections ?? projectionsOf(app));
  const base = { temporal, bus, readModels, waiter, admin, redis: timedRedis, rabbit, config, authenticate: createAuthenticator(config) };
  return {
    context: (request = {}) => ({ ...base, token: request.token ?? null, correlationId: request.correlationId ?? null, userId: request.userId ?? null }),
    bus,
    admin,
    async close() {
      // Commands whose callers hung up are still being delivered: let them settle (each has a deadline).
      for (let waited = 0; bus.queued > 0 && waited < config.COMMAND_TIMEOUT_MS + 1000; waited += 50) {
        await sleep(50);
      }
      await Promise.allSettled([closeRedis(redis), closeRedis(subscriber), rabbit.close(), temporal.connection.close()]);
    },
  };
}
