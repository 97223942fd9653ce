import { z } from 'zod';
import type { AnyAggregate } from './aggregate';
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

/** A read-only query over read models, offered by the API as `<aggregate>.<name>`. */
export interface QueryDefinition<I extends z.ZodType = z.ZodType, O = unknown> {
  readonly description: string;
  readonly input: I;
  readonly run: (read: ReadModelReader, input: z.output<I>) => Promise<O>;
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
}

export function defineModule<A extends AnyAggregate, P extends AnyProjection, Q extends AnyQueries = Record<never, never>, D extends DocOf<P> = DocOf<P>>(module: {
  aggregate: A;
  readModel: P;
  /** For a read model that keeps other documents too: which ones `get` answers. */
  document?: (doc: DocOf<P>) => doc is D;
  /** Projections besides the read model. */
  projections?: readonly AnyProjection[];
  queries?: Q;
}): AggregateModule<A, P, Q, D> {
  const projections = [module.readModel, ...(module.projections ?? []).filter((p) => p !== module.readModel)];
  const isDocument = module.document ?? ((doc: DocOf<P>): doc is D => doc !== null);
  return { aggregate: module.aggregate, readModel: module.readModel, isDocument, projections, queries: (module.queries ?? {}) as Q };
}

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
