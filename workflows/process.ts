/**
 * `ledgerflow/workflow`: what an app's process workflows (checkout, fulfilment, ...) use to
 * talk to aggregates. Workflow code only: deterministic, no Node APIs.
 */
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { createProcessActivities } from '../activities/process';
import type { CommandOutcome } from '../core/envelopes';
import { processCommandId } from '../core/ids';

export { LinkedAggregates, linkedAggregates, linkedAggregatesBytes, ProcessType } from './definitions';
export { processCommandId };
export type { CommandOutcome };

type ProcessActivities = ReturnType<typeof createProcessActivities>;

/** Retried until it gets an answer: a full backlog or a timeout delays a step and never skips it. */
const retryForever = { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' } as const;

/**
 * Commands from this process to aggregates. Each command's id is derived from the process's
 * workflow id and the step (aggregate, id, command type, and `step` when one process sends the
 * same command to the same aggregate twice), so a retried step or a restarted worker applies it
 * once. A retryable refusal is retried; a domain refusal is returned as a `rejected` outcome.
 */
export function processCommands(options: { correlationId: string; startToCloseTimeout?: string }) {
  const { sendCommand } = proxyActivities<ProcessActivities>({ startToCloseTimeout: options.startToCloseTimeout ?? '30 seconds', retry: retryForever });
  return {
    send(aggregateType: string, aggregateId: string, type: string, payload: Record<string, unknown>, step?: string): Promise<CommandOutcome> {
      const processId = workflowInfo().workflowId;
      return sendCommand({
        aggregateType,
        aggregateId,
        type,
        payload,
        commandId: processCommandId(processId, `${aggregateType}:${aggregateId}:${type}${step ? `:${step}` : ''}`),
        correlationId: options.correlationId,
        causationId: processId,
      });
    },
  };
}
