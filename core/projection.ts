import type { MessageOf, MessageSchemas, Upcasters } from './aggregate';
import type { EventEnvelope } from './envelopes';

/** An event as a projection sees it: the envelope with its payload typed by the aggregate. */
export type ProjectedEvent<E extends MessageSchemas> = Omit<EventEnvelope, 'type' | 'payload'> & MessageOf<E>;

/**
 * A read model built from one aggregate type's events: one JSON document per id, changed by a
 * pure `evolve`. The runtime (projectors/) owns Redis, batching, checkpoints and dedupe.
 */
export interface ProjectionDefinition<Doc = unknown, E extends MessageSchemas = MessageSchemas> {
  /** Names the Redis keys and the checkpoint; stable for the projection's life. */
  readonly name: string;
  /** Raise it when `evolve` changes meaning: the read model is rebuilt from the log. */
  readonly version: number;
  readonly source: { readonly name: string; readonly events: E; readonly upcasters: Upcasters<E> };
  /** Which document an event changes; by default the aggregate's own id. */
  readonly documentId: (event: ProjectedEvent<E>) => string;
  /** The new document, or null to delete it. */
  readonly evolve: (doc: Doc | null, event: ProjectedEvent<E>) => Doc | null;
  /**
   * Sorted indexes over the documents (Redis sorted sets, rebuilt with the projection): each
   * gives a document's score in that index, or null to leave it out.
   */
  readonly indexes: Readonly<Record<string, (doc: Doc) => number | null>>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyProjection = ProjectionDefinition<any, any>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type DocOf<P> = P extends ProjectionDefinition<infer D, any> ? D : never;

export function defineProjection<Doc, E extends MessageSchemas>(
  definition: Omit<ProjectionDefinition<Doc, E>, 'documentId' | 'indexes'> &
    Partial<Pick<ProjectionDefinition<Doc, E>, 'documentId' | 'indexes'>>,
): ProjectionDefinition<Doc, E> {
  return { documentId: (event) => event.aggregateId, indexes: {}, ...definition };
}
