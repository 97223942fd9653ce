import type { z } from 'zod';
import type { MessageOf, MessageSchemas, Upcasters } from './aggregate';
import type { EventEnvelope } from './envelopes';

/**
 * What a projection reads from: an aggregate definition, or anything shaped like one. The
 * projection takes the events' schemas and upcasters from it, so it reads the log as the
 * aggregate wrote it.
 */
export interface ProjectionSource<Name extends string = string, E extends MessageSchemas = MessageSchemas> {
  readonly name: Name;
  readonly events: E;
  readonly upcasters: Upcasters<E>;
}

/** One event as a handler sees it: the envelope with its aggregate type, event type and payload typed. */
export type SourceEvent<Name extends string, Type extends string, Payload> = Omit<EventEnvelope, 'aggregateType' | 'type' | 'payload'> & {
  readonly aggregateType: Name;
  readonly type: Type;
  readonly payload: Payload;
};

/** An event of one aggregate as a single-source `evolve` sees it: a union over its event types. */
export type ProjectedEvent<E extends MessageSchemas> = Omit<EventEnvelope, 'type' | 'payload'> & MessageOf<E>;

/** `<aggregateType>.<EventType>` for every event of every source. */
export type HandlerKey<S> = S extends ProjectionSource ? `${S['name']}.${keyof S['events'] & string}` : never;

/** The event a handler key names, with its typed payload. */
export type EventOf<S, K> = S extends ProjectionSource
  ? { [T in keyof S['events'] & string]: `${S['name']}.${T}` extends K ? SourceEvent<S['name'], T, z.output<S['events'][T]>> : never }[keyof S['events'] &
      string]
  : never;

/**
 * What a handler may read while a batch is applied: the generation being written (the live
 * one, or a rebuild's), with the batch's own earlier writes included.
 */
export interface ProjectionReader {
  /** A document of the generation being written, as of this point in the batch (in-batch writes included). */
  get<T = unknown>(id: string): Promise<T | null>;
  /**
   * Ids in one of this projection's indexes (under `key` for a keyed index), by score, lowest
   * first unless `order` is 'desc'; all of them unless `limit` is given.
   */
  ids(index: string, options?: { key?: string; limit?: number; order?: 'asc' | 'desc' }): Promise<string[]>;
}

/**
 * Every document in one of the projection's indexes (under `key` for a keyed index): a fan-out
 * of any size, which the runtime reads and applies in bounded chunks (`fanOutChunk` documents
 * per Redis call), resuming after a crash where it stopped. The handler must not move documents
 * within that index (the chunks page through it by rank): doing so parks the event.
 */
export interface IndexFanOut {
  readonly index: string;
  readonly key?: string;
}

export interface EventHandler<Doc, Ev> {
  /**
   * The ids of the documents this event changes; default [event.aggregateId]. May read. Meant
   * for a few documents: a list that grows with the data (all orders of a customer) belongs in
   * `fanOut`, which is applied in bounded chunks.
   */
  readonly documents?: (event: Ev, read: ProjectionReader) => readonly string[] | Promise<readonly string[]>;
  /** Also change every document of an index (see IndexFanOut), besides those `documents` names. */
  readonly fanOut?: (event: Ev) => IndexFanOut;
  /** The new document or null to delete it. May read other documents. */
  readonly apply: (doc: Doc | null, event: Ev, read: ProjectionReader, id: string) => Doc | null | Promise<Doc | null>;
}

/** An index entry: a score in the index, a score under a key (one sorted set per key), or null (not indexed). */
export type IndexEntry = number | { key: string; score: number } | null;

/**
 * Sorted indexes over the documents (Redis sorted sets, written in the same commit and rebuilt
 * with them): each gives a document's entry, computed again whenever the document changes.
 */
export type Indexes<Doc> = Readonly<Record<string, (doc: Doc, id: string) => IndexEntry>>;

/** A handler per `<aggregateType>.<EventType>`; events without one only advance their aggregate's version. */
export type Handlers<Doc, S> = { readonly [K in HandlerKey<S>]?: EventHandler<Doc, EventOf<S, K>> };

/**
 * A read model: JSON documents by id, fed by the events of one or more aggregates. The runtime
 * (projectors/) owns Redis, batching, checkpoints, dedupe and ordering per aggregate.
 */
export interface ProjectionDefinition<Doc = unknown, S extends ProjectionSource = ProjectionSource> {
  /** Names the Redis keys and the checkpoint; stable for the projection's life. */
  readonly name: string;
  /** Raise it when a handler or index changes meaning: the read model is rebuilt from the log. */
  readonly version: number;
  readonly sources: readonly S[];
  readonly handlers: Handlers<Doc, S>;
  readonly indexes: Indexes<Doc>;
}

/** The classic form: one aggregate's events, one document per event through a pure `evolve`. */
export interface SingleSourceProjection<Doc = unknown, E extends MessageSchemas = MessageSchemas> extends ProjectionDefinition<Doc, ProjectionSource<string, E>> {
  readonly source: ProjectionSource<string, E>;
  /** Which document an event changes; by default the aggregate's own id. */
  readonly documentId: (event: ProjectedEvent<E>) => string;
  /** The new document, or null to delete it. */
  readonly evolve: (doc: Doc | null, event: ProjectedEvent<E>) => Doc | null;
}

/** Any projection, its types erased: what the runtime, the registry and the API handle. */
export interface AnyProjection {
  readonly name: string;
  readonly version: number;
  readonly sources: readonly ProjectionSource[];
  readonly handlers: Readonly<Record<string, EventHandler<any, any> | undefined>>;
  readonly indexes: Indexes<any>;
}

/** The document type of a projection. */
export type DocOf<P> = P extends ProjectionDefinition<infer D, any> ? D : P extends { readonly indexes: Indexes<infer D> } ? D : never;

type SingleSourceInput<Doc, E extends MessageSchemas> = Omit<SingleSourceProjection<Doc, E>, 'documentId' | 'indexes' | 'sources' | 'handlers'> &
  Partial<Pick<SingleSourceProjection<Doc, E>, 'documentId' | 'indexes'>>;

type MultiSourceInput<Doc, S extends readonly ProjectionSource[]> = {
  readonly name: string;
  readonly version: number;
  readonly sources: S;
  readonly handlers: Handlers<Doc, S[number]>;
  readonly indexes?: Indexes<Doc>;
};

/**
 * Declares a projection. The single-source form (`source` and `evolve`) reads one aggregate;
 * the multi-source form (`sources` and `handlers`) reads several, fans an event out to many
 * documents and reads other documents while applying. Handler keys and payloads are typed by
 * the sources: `'order.OrderCreated'` receives the OrderCreated envelope; an unknown key does
 * not compile. Give the document type as the first type argument, or annotate `doc` in a handler.
 */
export function defineProjection<Doc, E extends MessageSchemas>(definition: SingleSourceInput<Doc, E>): SingleSourceProjection<Doc, E>;
export function defineProjection<Doc, const S extends readonly ProjectionSource[]>(definition: MultiSourceInput<Doc, S>): ProjectionDefinition<Doc, S[number]>;
export function defineProjection(definition: SingleSourceInput<unknown, MessageSchemas> | MultiSourceInput<unknown, readonly ProjectionSource[]>): AnyProjection {
  // `evolve` first: a spread single-source definition also carries the handlers derived from it.
  const projection: AnyProjection = 'evolve' in definition ? fromEvolve(definition) : { ...definition, indexes: definition.indexes ?? {} };
  checkDefinition(projection);
  return projection;
}

const byAggregateId = (event: Pick<EventEnvelope, 'aggregateId'>) => event.aggregateId;

/** The single-source form as sugar: a handler per event type of its source, each calling `evolve`. */
function fromEvolve<Doc, E extends MessageSchemas>(definition: SingleSourceInput<Doc, E>): SingleSourceProjection<Doc, E> {
  const documentId = definition.documentId ?? byAggregateId;
  // Without a custom documentId the handlers name no documents, so the runtime reads them ahead
  // (by aggregate id) in one round trip; the identity check keeps that for a re-spread definition.
  const documents = documentId !== byAggregateId && ((event: ProjectedEvent<E>) => [documentId(event)]);
  const handler = { ...(documents && { documents }), apply: (doc: Doc | null, event: ProjectedEvent<E>) => definition.evolve(doc, event) };
  // A handler of every event type handles each one; the compiler cannot see that through the generic E.
  const handlers = Object.fromEntries(
    Object.keys(definition.source.events).map((type) => [`${definition.source.name}.${type}`, handler]),
  ) as unknown as Handlers<Doc, ProjectionSource<string, E>>;
  return { ...definition, indexes: definition.indexes ?? {}, documentId, sources: [definition.source], handlers };
}

/** Mistakes the types catch, caught again at start for definitions built without them. */
function checkDefinition(projection: AnyProjection): void {
  const names = projection.sources.map((source) => source.name);
  const twice = names.find((name, i) => names.indexOf(name) !== i);
  if (twice !== undefined) throw new Error(`projection ${projection.name} lists source ${twice} twice`);
  for (const key of Object.keys(projection.handlers)) {
    const source = projection.sources.find((s) => key.startsWith(`${s.name}.`) && Object.hasOwn(s.events, key.slice(s.name.length + 1)));
    if (!source) throw new Error(`projection ${projection.name} has a handler for ${key}, which none of its sources (${names.join(', ')}) emits`);
  }
}

/** Whether a projection reads an aggregate type's events (so a command on it may wait for the projection). */
export function readsFrom(projection: AnyProjection, aggregateType: string): boolean {
  return projection.sources.some((source) => source.name === aggregateType);
}

/** The handler for an event, if the projection has one. */
export function handlerFor(projection: AnyProjection, aggregateType: string, eventType: string) {
  const key = `${aggregateType}.${eventType}`;
  return Object.hasOwn(projection.handlers, key) ? projection.handlers[key] : undefined;
}
