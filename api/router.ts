import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import type { AnyAggregate } from '../core/aggregate';
import type { AnyProjection, DocOf } from '../core/projection';
import { aggregates, projections, readModelOf, type Aggregates } from '../domain';
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

function aggregateRouter<A extends AnyAggregate, P extends AnyProjection>(aggregate: A, projection: P) {
  const sources = projections.filter((p) => p.source.name === aggregate.name);
  return mergeRouters(commandRouter(aggregate, sources), router({ get: getQuery(aggregate, projection) }));
}

type AggregateRouters = {
  [K in keyof Aggregates]: ReturnType<typeof aggregateRouter<Aggregates[K], (typeof readModelOf)[K]>>;
};

const aggregateRouters = Object.fromEntries(
  (Object.keys(aggregates) as (keyof Aggregates)[]).map((name) => [name, aggregateRouter(aggregates[name], readModelOf[name])]),
) as AggregateRouters;

export const systemRouter = router({
  health: publicProcedure.query(({ ctx }) => checkHealth(ctx)),
});

export const appRouter = router({ ...aggregateRouters, system: systemRouter });

/** The API's type: give it to `createTRPCClient<AppRouter>` for typed commands and queries. */
export type AppRouter = typeof appRouter;
