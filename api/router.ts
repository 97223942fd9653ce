import { TRPCError, tracked } from '@trpc/server';
import { z } from 'zod';
import type { TRPCQueryProcedure } from '@trpc/server';
import type { AnyAggregate } from '../core/aggregate';
import { projectionsOf, type AnyAppConfig, type ModulesOf } from '../core/app';
import type { AnyModule, ModuleDocOf, QueryDefinition } from '../core/module';
import { readsFrom, type AnyProjection } from '../core/projection';
import { UnknownProjectionError } from '../projectors/admin';
import { commandRouter } from './aggregate-router';
import { recentHealth } from './health';
import { untilIdle } from './subscriptions';
import { adminProcedure, asUnavailable, clientProcedure, mergeRouters, publicProcedure, router } from './trpc';

/** How long a query with `minVersion` waits for the read model before answering TIMEOUT. */
export const minVersionTimeoutMs = 5000;

/** `<aggregate>.get`: the aggregate's read model, optionally no older than `minVersion`. */
function getQuery<M extends AnyModule>(module: M) {
  const aggregate: AnyAggregate = module.aggregate;
  const readModel: AnyProjection = module.readModel;
  const input = z.strictObject({ [aggregate.idField]: aggregate.idSchema, minVersion: z.number().int().positive().optional() });
  return clientProcedure.input(input).query(async ({ input, ctx }): Promise<ModuleDocOf<M>> => {
    const id = input[aggregate.idField] as string;
    const minVersion = input.minVersion as number | undefined;
    if (minVersion !== undefined && !(await ctx.waiter.waitFor([readModel], aggregate.name, id, minVersion, minVersionTimeoutMs))) {
      throw new TRPCError({ code: 'TIMEOUT', message: `${aggregate.name} ${id} has not reached version ${minVersion} in the read model yet` });
    }
    const doc = await ctx.readModels.get(readModel, id);
    if (doc === null || !module.isDocument(doc)) throw new TRPCError({ code: 'NOT_FOUND', message: `${aggregate.name} ${id} not found` });
    return doc as ModuleDocOf<M>;
  });
}

/**
 * `<aggregate>.onChange`: the read model each time it reaches a newer version, over server-sent
 * events. Each message is tracked by its version: a client that reconnects sends the last one
 * it saw and receives the current document at once if it is newer, so it never stays behind.
 * One idle for API_SUBSCRIPTION_IDLE_MS is ended, and its client reconnects.
 */
function onChangeSubscription<P extends AnyProjection>(aggregate: AnyAggregate, projection: P) {
  const input = z.strictObject({ [aggregate.idField]: aggregate.idSchema, lastEventId: z.string().regex(/^\d+$/).nullish() });
  return clientProcedure.input(input).subscription(async function* ({ input, ctx, signal }) {
    const id = input[aggregate.idField] as string;
    const since = Number(input.lastEventId ?? 0);
    const changes = (until: AbortSignal) => ctx.waiter.changes(projection, aggregate.name, id, since, until);
    try {
      for await (const { version, doc } of untilIdle(changes, signal ?? new AbortController().signal, ctx.config.API_SUBSCRIPTION_IDLE_MS)) {
        yield tracked(String(version), doc);
      }
    } catch (error) {
      // Redis away or slow: a retryable 503 in the stream, on which tRPC's client reconnects.
      throw asUnavailable(error) ?? error;
    }
  });
}

/** A module's own queries (`order.activeForCustomer`, ...), typed from their definitions. */
type QueryProcedures<Q> = {
  [K in keyof Q & string]: Q[K] extends QueryDefinition<infer I, infer O> ? TRPCQueryProcedure<{ input: z.input<I>; output: O; meta: object }> : never;
};

function moduleQueries<Q extends AnyModule['queries']>(queries: Q) {
  const procedures = Object.fromEntries(
    Object.entries(queries as Record<string, QueryDefinition>).map(([name, query]) => [
      name,
      clientProcedure.input(query.input).query(({ ctx, input }) => query.run(ctx.readModels, input)),
    ]),
  );
  return router(procedures as unknown as QueryProcedures<Q>);
}

/** `<aggregate>.*`: its public commands, `get`, `onChange` and the module's own queries. */
function aggregateRouter<M extends AnyModule>(module: M, projections: readonly AnyProjection[]) {
  const aggregate: M['aggregate'] = module.aggregate;
  const readModel: M['readModel'] = module.readModel;
  const sources = projections.filter((p) => readsFrom(p, aggregate.name));
  return mergeRouters(
    commandRouter<M['aggregate']>(aggregate, sources),
    router({ get: getQuery<M>(module), onChange: onChangeSubscription<M['readModel']>(aggregate, readModel) }),
    moduleQueries<M['queries']>(module.queries),
  );
}

const projectionInput = z.strictObject({ projection: z.string().min(1) });

/** Maps an unknown projection name to NOT_FOUND. */
async function adminCall<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof UnknownProjectionError) throw new TRPCError({ code: 'NOT_FOUND', message: error.message });
    throw error;
  }
}

/** Operations: health is public, the rest needs an admin token. */
export const systemRouter = router({
  health: publicProcedure.query(({ ctx }) => recentHealth(ctx)),
  /** Per projection: owner, state, checkpoint, stream tail, lag in events and seconds, rate, parked, rebuild progress. */
  projections: adminProcedure.query(({ ctx }) => ctx.admin.statuses()),
  parked: adminProcedure
    .input(projectionInput.extend({ limit: z.number().int().min(1).max(1000).optional() }))
    .query(({ ctx, input }) => adminCall(() => ctx.admin.parked(input.projection, input.limit))),
  /** Re-applies a projection's parked events (after its handler was fixed). */
  redrive: adminProcedure.input(projectionInput).mutation(({ ctx, input }) => adminCall(() => ctx.admin.requestRedrive(input.projection))),
  /** Rebuilds a projection into a new generation from the start of the log; reads continue meanwhile. */
  rebuild: adminProcedure.input(projectionInput).mutation(async ({ ctx, input }) => {
    await adminCall(() => ctx.admin.requestRebuild(input.projection));
    return { requested: true };
  }),
});

type AggregateRouters<M> = { [K in keyof M]: M[K] extends AnyModule ? ReturnType<typeof aggregateRouter<M[K]>> : never };

/**
 * The app's API: `<aggregate>.*` per module (its commands, `get`, `onChange`, its own queries)
 * and `system.*`. Serve it with `startApiServer`, or merge it into a router of your own.
 */
export function createRouter<C extends AnyAppConfig>(config: C) {
  const projections = projectionsOf(config);
  const modules = config.modules as ModulesOf<C>;
  const aggregateRouters = Object.fromEntries(
    Object.entries(modules as Record<string, AnyModule>).map(([name, module]) => [name, aggregateRouter(module, projections)]),
  ) as AggregateRouters<ModulesOf<C>>;
  return router({ ...aggregateRouters, system: systemRouter });
}

/** The API's type for an app's config: `type AppRouter = RouterOf<typeof config>` gives its clients full types. */
export type RouterOf<C extends AnyAppConfig> = ReturnType<typeof createRouter<C>>;

/** Every procedure's path (`cart.addItem`, `system.health`, ...): the only values of the metrics' path label. */
export const procedurePathsOf = (appRouter: { _def: { procedures: object } }): readonly string[] => Object.keys(appRouter._def.procedures);
