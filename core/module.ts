import { z } from 'zod';
import type { AnyAggregate, PublicCommandsOf } from './aggregate';
import type { ApiRole } from './config';
import type { AnyProjection, DocOf } from './projection';

/** Which documents of an index to read: by score, under a key for keyed indexes. */
export interface IndexRead {
  key?: string;
  min?: number;
  max?: number;
  limit?: number;
  order?: 'asc' | 'desc';
}

/** Most documents one page of a list query holds (`page`, `pageInput`). */
export const maxPageSize = 100;

/** A page of documents, and the cursor that reads the next one (null on the last page). */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/**
 * The input fields of a paged list query, to spread into its zod object: `limit` (1 to
 * `maxPageSize`) and `cursor` (a previous page's `nextCursor`; a made-up one is a BAD_REQUEST).
 */
export const pageInput = {
  limit: z.number().int().min(1).max(maxPageSize).optional(),
  cursor: z.string().min(1).max(1024).optional(),
};

/** What a module's queries read: the documents of the active generation of its projections. */
export interface ReadModelReader {
  get<P extends AnyProjection>(projection: P, id: string): Promise<DocOf<P> | null>;
  /** The first `limit` documents of an index (100 by default). */
  list<P extends AnyProjection>(projection: P, index: keyof P['indexes'] & string, query?: IndexRead): Promise<DocOf<P>[]>;
  /** One page of an index, after `cursor`: every document is reached by following `nextCursor`. */
  page<P extends AnyProjection>(projection: P, index: keyof P['indexes'] & string, query?: IndexRead & { cursor?: string }): Promise<Page<DocOf<P>>>;
}

/** Who is calling, as the API authenticated them: a query's third argument. */
export interface Caller {
  role: ApiRole;
  /** The signed-in user (a JWT's `sub`, or what the app's `identify` named); null for a service token. */
  userId: string | null;
}

/**
 * Who may send a command or read an aggregate, enforced by the API before anything is sent or
 * read. An admin passes every rule.
 * - `any`: every caller with a client token (or a JWT);
 * - `owner`: a signed-in user the module's `owner` rule maps the aggregate id to;
 * - `admin`: admins only (staff operations such as shipping an order);
 * - `internal`: sent by processes; refused to clients, open to admins for repairs.
 */
export type CommandAccess = 'any' | 'owner' | 'admin' | 'internal';
export type ReadAccess = 'any' | 'owner' | 'admin';
/** A query's rule: `any`, `admin`, or `owner` with the user its input names (e.g. its `customerId`). */
export type QueryAccess<I = unknown> = 'any' | 'admin' | { readonly owner: (input: I) => string | null };

/** A module's access rules: who owns each aggregate id, who sends each command, who reads. */
export interface ModuleAccess<A extends AnyAggregate = AnyAggregate> {
  /** The user an aggregate id belongs to (null: no user's; only an admin reaches it). Needed by `owner` rules. */
  readonly owner?: (aggregateId: string) => string | null;
  /** Per public command; a command left out is `any`. */
  readonly commands?: { readonly [K in PublicCommandsOf<A>]?: CommandAccess };
  /** `get` and `onChange` (`any` when left out). */
  readonly read?: ReadAccess;
}

/** A read-only query over read models, offered by the API as `<aggregate>.<name>`. */
export interface QueryDefinition<I extends z.ZodType = z.ZodType, O = unknown> {
  readonly description: string;
  readonly input: I;
  /** Who may call it (`any` when left out). */
  readonly access?: QueryAccess<z.output<I>>;
  readonly run: (read: ReadModelReader, input: z.output<I>, caller: Caller) => Promise<O>;
}

export function defineQuery<I extends z.ZodType, O>(query: QueryDefinition<I, O>): QueryDefinition<I, O> {
  return query;
}

type AnyQueries = Readonly<Record<string, QueryDefinition<any, any>>>;

/**
 * Everything one aggregate brings to the engine, registered with one entry in domain/index.ts:
 * the aggregate, the read model `<aggregate>.get` reads (documents keyed by the aggregate's id),
 * every projection it owns, and its custom queries.
 */
export interface AggregateModule<
  A extends AnyAggregate = AnyAggregate,
  P extends AnyProjection = AnyProjection,
  Q extends AnyQueries = AnyQueries,
  D extends DocOf<P> = DocOf<P>,
> {
  readonly aggregate: A;
  readonly readModel: P;
  /** Which of the read model's documents `get` answers (a projection may keep others beside them). */
  readonly isDocument: (doc: DocOf<P>) => doc is D;
  readonly projections: readonly AnyProjection[];
  readonly queries: Q;
  readonly access: ModuleAccess<A>;
}

export function defineModule<A extends AnyAggregate, P extends AnyProjection, Q extends AnyQueries = Record<never, never>, D extends DocOf<P> = DocOf<P>>(module: {
  aggregate: A;
  readModel: P;
  /** For a read model that keeps other documents too: which ones `get` answers. */
  document?: (doc: DocOf<P>) => doc is D;
  /** Projections besides the read model. */
  projections?: readonly AnyProjection[];
  queries?: Q;
  /** Who may send each command and read the aggregate; everything is `any` when left out. */
  access?: ModuleAccess<A>;
}): AggregateModule<A, P, Q, D> {
  const projections = [module.readModel, ...(module.projections ?? []).filter((p) => p !== module.readModel)];
  const isDocument = module.document ?? ((doc: DocOf<P>): doc is D => doc !== null);
  const access = module.access ?? {};
  checkAccess(module.aggregate, access);
  return { aggregate: module.aggregate, readModel: module.readModel, isDocument, projections, queries: (module.queries ?? {}) as Q, access };
}

/** An `owner` rule without an owner, or a rule for a command the aggregate does not offer, is a mistake found at start. */
function checkAccess(aggregate: AnyAggregate, access: ModuleAccess) {
  const rules = Object.entries(access.commands ?? {}) as [string, CommandAccess][];
  for (const [type] of rules) {
    if (!(type in aggregate.commands) || (aggregate.internalCommands as readonly string[]).includes(type)) {
      throw new Error(`access rule for '${aggregate.name}.${type}': the aggregate offers no such command`);
    }
  }
  const owned = rules.some(([, rule]) => rule === 'owner') || access.read === 'owner';
  if (owned && !access.owner) throw new Error(`module '${aggregate.name}' has 'owner' rules but no owner(aggregateId)`);
}

/** The rule a command follows (`any` unless the module says otherwise). */
export const commandAccessOf = (module: AnyModule, type: string): CommandAccess =>
  (module.access.commands as Readonly<Record<string, CommandAccess>> | undefined)?.[type] ?? 'any';

export type AnyModule = AggregateModule<any, any, any, any>;
/** The document type `<aggregate>.get` answers. */
export type ModuleDocOf<M> = M extends AggregateModule<any, any, any, infer D> ? D : never;

/**
 * The registry of a domain: its modules by aggregate name, and what the engine derives from
 * them (the aggregates the workflow and deciding run, the read models `get` reads, every
 * projection once). A module registered under another name than its aggregate's is refused.
 */
export function defineRegistry<const M extends Readonly<Record<string, AnyModule>>>(modules: M) {
  for (const [name, module] of Object.entries(modules)) {
    if (module.aggregate.name !== name) throw new Error(`module '${name}' holds aggregate '${module.aggregate.name}': register it under its own name`);
  }
  const entries = Object.entries(modules) as [keyof M & string, AnyModule][];
  return {
    modules,
    aggregates: Object.fromEntries(entries.map(([name, m]) => [name, m.aggregate])) as { [K in keyof M]: M[K]['aggregate'] },
    readModelOf: Object.fromEntries(entries.map(([name, m]) => [name, m.readModel])) as { [K in keyof M]: M[K]['readModel'] },
    projections: [...new Set(entries.flatMap(([, m]) => m.projections))] as readonly AnyProjection[],
  };
}
