import { TRPCError, tracked } from '@trpc/server';
import { z } from 'zod';
import type { TRPCQueryProcedure } from '@trpc/server';
import type { AnyAggregate } from '../core/aggregate';
import { projectionsOf, type AnyAppConfig, type ModulesOf } from '../core/app';
import type { AnyModule, Caller, ModuleDocOf, QueryDefinition } from '../core/module';
import { ruleRefusal } from './access';
import { readsFrom, type AnyProjection } from '../core/projection';
import { commandIdMessage, commandIdPattern } from '../core/envelopes';
import { aggregateIdPattern } from '../core/ids';
import { lookupCommand, type CommandLookup } from '../commands/lookup';
import { UnknownProjectionError } from '../projectors/admin';
import { InvalidCursorError } from '../projectors/store';
import { commandRouter } from './aggregate-router';
import { recentHealth } from './health';
import { untilIdle } from './subscriptions';
import { adminProcedure, asUnavailable, clientProcedure, enforce, mergeRouters, publicProcedure, router } from './trpc';

/** How long a query with `minVersion` waits for the read model before answering TIMEOUT. */
export const minVersionTimeoutMs = 5000;

/** Refuses a caller the module's `read` rule does not let read aggregate `id` (decided from the id alone, before any read). */
function enforceRead(module: AnyModule, caller: Caller, id: string, what: string): void {
  enforce(ruleRefusal(caller, module.access.read ?? 'any', () => module.access.owner!(id), `${what} of ${module.aggregate.name} ${id}`));
}

/** A query's rule: `owner` queries name their user in their input (e.g. `customerId`). */
function queryRefusal(query: QueryDefinition, caller: Caller, input: unknown, what: string) {
  const access = query.access ?? 'any';
  return typeof access === 'string' ? ruleRefusal(caller, access, () => null, what) : ruleRefusal(caller, 'owner', () => access.owner(input), what);
}

/** `<aggregate>.get`: the aggregate's read model, optionally no older than `minVersion`. */
function getQuery<M extends AnyModule>(module: M) {
  const aggregate: AnyAggregate = module.aggregate;
  const readModel: AnyProjection = module.readModel;
  const input = z.strictObject({ [aggregate.idField]: aggregate.idSchema, minVersion: z.number().int().positive().optional() });
  return clientProcedure.input(input).query(async ({ input, ctx }): Promise<ModuleDocOf<M>> => {
    const id = input[aggregate.idField] as string;
    enforceRead(module, ctx.caller, id, `${aggregate.name}.get`);
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
function onChangeSubscription<P extends AnyProjection>(module: AnyModule, aggregate: AnyAggregate, projection: P) {
  const input = z.strictObject({ [aggregate.idField]: aggregate.idSchema, lastEventId: z.string().regex(/^\d+$/).nullish() });
  return clientProcedure.input(input).subscription(async function* ({ input, ctx, signal }) {
    const id = input[aggregate.idField] as string;
    enforceRead(module, ctx.caller, id, `${aggregate.name}.onChange`);
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

function moduleQueries<Q extends AnyModule['queries']>(aggregate: AnyAggregate, queries: Q) {
  const procedures = Object.fromEntries(
    Object.entries(queries as Record<string, QueryDefinition>).map(([name, query]) => [
      name,
      clientProcedure.input(query.input).query(({ ctx, input }) => {
        enforce(queryRefusal(query, ctx.caller, input, `${aggregate.name}.${name}`));
        return inQuery(() => query.run(ctx.readModels, input, ctx.caller));
      }),
    ]),
  );
  return router(procedures as unknown as QueryProcedures<Q>);
}

/** A made-up page cursor is the caller's mistake: BAD_REQUEST, not a 500. */
async function inQuery<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof InvalidCursorError) throw new TRPCError({ code: 'BAD_REQUEST', message: error.message, cause: error });
    throw error;
  }
}

/** `<aggregate>.*`: its public commands, `get`, `onChange` and the module's own queries. */
function aggregateRouter<M extends AnyModule>(module: M, projections: readonly AnyProjection[]) {
  const aggregate: M['aggregate'] = module.aggregate;
  const readModel: M['readModel'] = module.readModel;
  const sources = projections.filter((p) => readsFrom(p, aggregate.name));
  return mergeRouters(
    commandRouter<M['aggregate']>(module, sources),
    router({ get: getQuery<M>(module), onChange: onChangeSubscription<M['readModel']>(module, aggregate, readModel) }),
    moduleQueries<M['queries']>(aggregate, module.queries),
  );
}

const projectionInput = z.strictObject({ projection: z.string().min(1) });

const commandOutcomeInput = z.strictObject({
  aggregateType: z.string().min(1).max(128),
  aggregateId: z.string().regex(aggregateIdPattern, 'an aggregate id'),
  commandId: z.string().regex(commandIdPattern, commandIdMessage),
});

/**
 * `system.commandOutcome`'s answer. `pending`: in the aggregate's mailbox; `accepted` at
 * `version`; `rejected` (INTERNAL and UNAVAILABLE kinds decided nothing: a resend with the same
 * id is decided afresh); `unknown`: never seen, or no longer remembered (see the README's
 * idempotency section).
 */
export interface CommandStatus {
  aggregateType: string;
  aggregateId: string;
  commandId: string;
  status: 'pending' | 'accepted' | 'rejected' | 'unknown';
  version: number | null;
  rejection: { kind: string; code: string; message: string } | null;
}

function statusOf(input: z.infer<typeof commandOutcomeInput>, lookup: CommandLookup): CommandStatus {
  return {
    ...input,
    status: lookup.status,
    version: 'version' in lookup ? lookup.version : null,
    rejection: lookup.status === 'rejected' ? lookup.rejection : null,
  };
}

/** Maps an unknown projection name to NOT_FOUND. */
async function adminCall<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof UnknownProjectionError) throw new TRPCError({ code: 'NOT_FOUND', message: error.message });
    throw error;
  }
}

/**
 * Operations: health is public, a command's outcome is for whoever may read its aggregate (the
 * module's `read` rule), the rest needs an admin token.
 */
function systemRouterOf(modules: readonly AnyModule[]) {
  const moduleOf = new Map(modules.map((module) => [module.aggregate.name, module]));
  return router({
  health: publicProcedure.query(({ ctx }) => recentHealth(ctx)),
  /** What became of a command, by its aggregate and commandId: what a caller told `queued` looks up. */
  commandOutcome: clientProcedure
    .input(commandOutcomeInput)
    .query(async ({ ctx, input }): Promise<CommandStatus> => {
      const module = moduleOf.get(input.aggregateType);
      if (!module) throw new TRPCError({ code: 'NOT_FOUND', message: `no aggregate type '${input.aggregateType}'` });
      enforceRead(module, ctx.caller, input.aggregateId, 'the outcome of a command');
      return statusOf(input, await lookupCommand(ctx.temporal, input.aggregateType, input.aggregateId, input.commandId));
    }),
  /** Per projection: owner, state, checkpoint, stream tail, lag in events and seconds, rate, parked, rebuild progress. */
  projections: adminProcedure.query(({ ctx }) => ctx.admin.statuses()),
  parked: adminProcedure
    .input(projectionInput.extend({ limit: z.number().int().min(1).max(1000).optional() }))
    .query(({ ctx, input }) => adminCall(() => ctx.admin.parked(input.projection, input.limit))),
  /** Re-applies a projection's parked events (after its handler was fixed). */
  redrive: adminProcedure.input(projectionInput).mutation(({ ctx, input }) => adminCall(() => ctx.admin.requestRedrive(input.projection))),
  /**
   * Rebuilds a projection into a new generation from the start of the log; reads continue meanwhile.
   * A rebuild over a log that lacks some aggregates' history is held (status `rebuild.held`) until
   * asked again with `acceptGaps`.
   */
  rebuild: adminProcedure.input(projectionInput.extend({ acceptGaps: z.boolean().optional() })).mutation(async ({ ctx, input }) => {
    await adminCall(() => ctx.admin.requestRebuild(input.projection, { acceptGaps: input.acceptGaps }));
    return { requested: true };
  }),
  /** Aggregates whose history the log lacks, in the live generation or the rebuild's (`of`). */
  gaps: adminProcedure
    .input(projectionInput.extend({ of: z.enum(['live', 'rebuild']).optional(), limit: z.number().int().min(1).max(1000).optional() }))
    .query(({ ctx, input }) => adminCall(() => ctx.admin.gaps(input.projection, { of: input.of, limit: input.limit }))),
  });
}

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
  return router({ ...aggregateRouters, system: systemRouterOf(Object.values(modules as Record<string, AnyModule>)) });
}

/** The API's type for an app's config: `type AppRouter = RouterOf<typeof config>` gives its clients full types. */
export type RouterOf<C extends AnyAppConfig> = ReturnType<typeof createRouter<C>>;

/** Every procedure's path (`cart.addItem`, `system.health`, ...): the only values of the metrics' path label. */
export const procedurePathsOf = (appRouter: { _def: { procedures: object } }): readonly string[] => Object.keys(appRouter._def.procedures);
