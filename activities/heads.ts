import type { AnyProjection } from '../core/projection';
import { within } from '../infra/deadline';
import type { Redis } from '../infra/redis';
import { createReadModels } from '../projectors/store';

/**
 * The highest version of an aggregate that a durable record outside its workflow holds (0: none):
 * what a run starting at version 0 asks before deciding, so that an aggregate whose workflow
 * history is gone (Temporal's retention, an operator's delete) is never started again empty.
 * Throws when the record cannot be read.
 */
export type AggregateHeads = (aggregateType: string, aggregateId: string) => Promise<number>;

/**
 * Heads from the versions the projectors keep per aggregate in Redis (the active generation of
 * every projection that reads the aggregate type): rebuilt from the event log like any read
 * model, so they are as durable as the log. Each read is bounded by `timeoutMs`.
 */
export function createProjectedHeads(redis: Redis, prefix: string, projections: readonly AnyProjection[], timeoutMs: number): AggregateHeads {
  const readModels = createReadModels(redis, prefix);
  return async (aggregateType, aggregateId) => {
    const readers = projections.filter((p) => p.sources.some((source) => source.name === aggregateType));
    const versions = await within(
      timeoutMs,
      Promise.all(readers.map((projection) => readModels.appliedVersion(projection, aggregateType, aggregateId))),
      new Error(`the projected versions of ${aggregateType} ${aggregateId} did not answer within ${timeoutMs} ms`),
    );
    return Math.max(0, ...versions);
  };
}
