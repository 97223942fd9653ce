import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { AggregateRef, LookedUp } from '../core/aggregate';
import { workflowIdOf } from '../core/ids';
import { aggregateLimits } from '../core/limits';
import { snapshotQuery } from '../workflows/definitions';

/**
 * Reads another aggregate's current state by querying its workflow: the single writer's own
 * state, never a lagging read model. An aggregate with no events does not exist (null).
 */
export function createAggregateLookup(client: Client, timeoutMs: number = aggregateLimits.lookupMs) {
  return async (ref: AggregateRef): Promise<LookedUp | null> => {
    try {
      const snapshot = await client.withDeadline(Date.now() + timeoutMs, () =>
        client.workflow.getHandle(workflowIdOf(ref.aggregateType, ref.aggregateId)).query(snapshotQuery),
      );
      return snapshot.version === 0 ? null : snapshot;
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return null;
      throw error;
    }
  };
}

export type AggregateLookup = ReturnType<typeof createAggregateLookup>;
