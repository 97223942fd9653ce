/**
 * What became of a command, asked of its aggregate by commandId: for a caller told `queued`
 * (wait 'none'), or one whose answer was lost. A running aggregate answers its `outcome` query;
 * a terminal one from how its workflow ended.
 */
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import { workflowIdOf } from '../core/ids';
import { outcomeQuery, type AggregateEnd } from '../workflows/definitions';
import { OutcomeMemory, type CommandLookup } from '../workflows/outcome-memory';
import { anyCause } from './failures';

export type { CommandLookup } from '../workflows/outcome-memory';

/** How long a lookup may take (a query needs a worker); past it the caller hears Temporal is away. */
export const lookupTimeoutMs = 5000;

export async function lookupCommand(client: Client, aggregateType: string, aggregateId: string, commandId: string): Promise<CommandLookup> {
  const handle = client.workflow.getHandle(workflowIdOf(aggregateType, aggregateId));
  try {
    return await client.withDeadline(Date.now() + lookupTimeoutMs, async (): Promise<CommandLookup> => {
      const { status } = await handle.describe();
      if (status.name === 'RUNNING') return handle.query(outcomeQuery, commandId);
      if (status.name !== 'COMPLETED') return { status: 'unknown' };
      const end = (await handle.result()) as AggregateEnd | undefined;
      return end?.end === 'terminal' ? OutcomeMemory.ended(end.recentOutcomes, end.acceptedIds).lookup(commandId) : { status: 'unknown' };
    });
  } catch (error) {
    if (anyCause(error, (cause) => cause instanceof WorkflowNotFoundError)) return { status: 'unknown' };
    throw error;
  }
}
