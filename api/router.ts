import { TRPCError, tracked } from '@trpc/server';
import { z } from 'zod';
import type { AnyAggregate } from '../core/aggregate';
import type { AnyProjection, DocOf } from '../core/projection';
import { aggregates, cartProjection, projections, readModelOf, type Aggregates } from '../domain';
import { UnknownProjectionError } from '../projectors/admin';
import { commandRouter } from './aggregate-router';
import { checkHealth } from './health';
import { mergeRouters, procedure, publicProcedure, router } from './trpc';

/** How long a query with `minVersion` waits for the read model before answering TIMEOUT. */
export const minVersionTimeoutMs = 5000;

/** `<aggregate>.get`: the aggregate's read model, optionally no older than `minVersion`. */
function getQuery<P extends AnyProjection>(aggregate: AnyAggregate, projection: P) {
  const input = z.strictObject({ [aggregate.idField]: aggregate.idSchema, minVersion: z.number().int().positive().optional() });
  return procedure.input(input).query(async ({ input, ctx }): Promise<DocOf<P>> => {
    const id = input[aggregate.idField] as string;
    const minVersion = input.minVersion as number | undefined;
    if (minVersion !== undefined && !(await ctx.waiter.waitFor([projection], aggregate.name, id, minVersion, minVersionTimeoutMs))) {
      throw new TRPCError({ code: 'TIMEOUT', message: `${aggregate.name} ${id} has not reached version ${minVersion} in the read model yet` });
    }
    const doc = await ctx.readModels.get(projection, id);
    if (doc === null) throw new TRPCError({ code: 'NOT_FOUND', message: `${aggregate.name} ${id} not found` });
    return doc;
  });
}

/**
 * `<aggregate>.onChange`: the read model each time it reaches a newer version, over server-sent
 * events. Each message is tracked by its version: a client that reconnects sends the last one
 * it saw and receives the current document at once if it is newer, so it never stays behind.
 */
function onChangeSubscription<P extends AnyProjection>(aggregate: AnyAggregate, projection: P) {
  const input = z.strictObject({ [aggregate.idField]: aggregate.idSchema, lastEventId: z.string().regex(/^\d+$/).nullish() });
  return procedure.input(input).subscription(async function* ({ input, ctx, signal }) {
    const id = input[aggregate.idField] as string;
    const since = Number(input.lastEventId ?? 0);
    for await (const { version, doc } of ctx.waiter.changes(projection, aggregate.name, id, since, signal ?? new AbortController().signal)) {
      yield tracked(String(version), doc);
    }
  });
}

function aggregateRouter<A extends AnyAggregate, P extends AnyProjection>(aggregate: A, projection: P) {
  const sources = projections.filter((p) => p.source.name === aggregate.name);
  return mergeRouters(
    commandRouter(aggregate, sources),
    router({ get: getQuery(aggregate, projection), onChange: onChangeSubscription(aggregate, projection) }),
  );
}

type AggregateRouters = {
  [K in keyof Aggregates]: ReturnType<typeof aggregateRouter<Aggregates[K], (typeof readModelOf)[K]>>;
};

const aggregateRouters = Object.fromEntries(
  (Object.keys(aggregates) as (keyof Aggregates)[]).map((name) => [name, aggregateRouter(aggregates[name], readModelOf[name])]),
) as AggregateRouters;

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

export const systemRouter = router({
  health: publicProcedure.query(({ ctx }) => checkHealth(ctx)),
  /** Per projection: owner, state, checkpoint, stream tail, lag in events and seconds, rate, parked, rebuild progress. */
  projections: procedure.query(({ ctx }) => ctx.admin.statuses()),
  parked: procedure
    .input(projectionInput.extend({ limit: z.number().int().min(1).max(1000).optional() }))
    .query(({ ctx, input }) => adminCall(() => ctx.admin.parked(input.projection, input.limit))),
  /** Re-applies a projection's parked events (after its handler was fixed). */
  redrive: procedure.input(projectionInput).mutation(({ ctx, input }) => adminCall(() => ctx.admin.requestRedrive(input.projection))),
  /** Rebuilds a projection into a new generation from the start of the log; reads continue meanwhile. */
  rebuild: procedure.input(projectionInput).mutation(async ({ ctx, input }) => {
    await adminCall(() => ctx.admin.requestRebuild(input.projection));
    return { requested: true };
  }),
});

/** Read-model queries beyond `get`, over the projections' indexes. */
const cartQueries = router({
  /** Open carts, least recently changed first (e.g. `updatedBefore` an hour ago: abandoned carts). */
  listOpen: procedure
    .input(z.strictObject({ updatedBefore: z.iso.datetime().optional(), limit: z.number().int().min(1).max(100).optional() }))
    .query(({ ctx, input }) =>
      ctx.readModels.list(cartProjection, 'openSince', {
        max: input.updatedBefore === undefined ? undefined : Date.parse(input.updatedBefore),
        limit: input.limit ?? 20,
      }),
    ),
});

export const appRouter = router({ ...aggregateRouters, cart: mergeRouters(aggregateRouters.cart, cartQueries), system: systemRouter });

/** Every procedure's path (`cart.addItem`, `system.health`, ...): the only values of the metrics' path label. */
export const procedurePaths: readonly string[] = Object.keys(appRouter._def.procedures);

/** The API's type: give it to `createTRPCClient<AppRouter>` for typed commands and queries. */
export type AppRouter = typeof appRouter;
