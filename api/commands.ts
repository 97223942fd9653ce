import { randomUUID } from 'node:crypto';
import { WithStartWorkflowOperation, type Client } from '@temporalio/client';
import { TypedSearchAttributes, WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { rejectedOutcome } from '../core/decider';
import type { CommandEnvelope, CommandOutcome } from '../core/envelopes';
import { workflowIdOf } from '../core/ids';
import type { aggregateWorkflow } from '../workflows/aggregate';
import {
  AggregateId,
  AggregateType,
  aggregateWorkflowType,
  commandSignal,
  maxCommandsPerUpdate,
  submitUpdate,
} from '../workflows/definitions';

interface Waiting {
  envelope: CommandEnvelope;
  resolve: (outcome: CommandOutcome) => void;
  reject: (error: unknown) => void;
}

/**
 * Delivers command envelopes to aggregate workflows. Commands for one aggregate that arrive
 * while an update is in flight are coalesced into the next update, so a hot aggregate sees
 * one update per round trip (far below Temporal's 10 in-flight updates) and decides the
 * whole batch in one workflow task.
 */
export function createCommandBus(client: Client, taskQueue: string) {
  const queues = new Map<string, Waiting[]>();

  const startOptions = (envelope: CommandEnvelope) => ({
    workflowId: workflowIdOf(envelope.aggregateType, envelope.aggregateId),
    taskQueue,
    args: [{ aggregateType: envelope.aggregateType, aggregateId: envelope.aggregateId }] as Parameters<typeof aggregateWorkflow>,
    // An aggregate whose workflow was closed (terminated by an operator, say) is never started
    // again empty under the same id: the command is refused instead.
    workflowIdReusePolicy: 'REJECT_DUPLICATE' as const,
    typedSearchAttributes: new TypedSearchAttributes([
      { key: AggregateType, value: envelope.aggregateType },
      { key: AggregateId, value: envelope.aggregateId },
    ]),
  });

  async function drain(workflowId: string, queue: Waiting[]) {
    while (queue.length > 0) {
      const batch = queue.splice(0, maxCommandsPerUpdate);
      try {
        const outcomes = await client.workflow.executeUpdateWithStart(submitUpdate, {
          args: [batch.map((w) => w.envelope)],
          startWorkflowOperation: new WithStartWorkflowOperation<typeof aggregateWorkflow>(aggregateWorkflowType, {
            ...startOptions(batch[0]!.envelope),
            workflowIdConflictPolicy: 'USE_EXISTING',
          }),
        });
        batch.forEach((w, i) => w.resolve(outcomes[i]!));
      } catch (error) {
        if (isClosedWorkflow(error)) for (const w of batch) w.resolve(closedOutcome(w.envelope));
        else for (const w of batch) w.reject(error);
      }
    }
    queues.delete(workflowId);
  }

  return {
    /** Resolves with the command's outcome once the aggregate has decided it. */
    submit(envelope: CommandEnvelope): Promise<CommandOutcome> {
      const workflowId = workflowIdOf(envelope.aggregateType, envelope.aggregateId);
      return new Promise((resolve, reject) => {
        const queue = queues.get(workflowId);
        if (queue) return void queue.push({ envelope, resolve, reject });
        const fresh: Waiting[] = [{ envelope, resolve, reject }];
        queues.set(workflowId, fresh);
        void drain(workflowId, fresh);
      });
    },

    /** Resolves once the command is durably in the aggregate's mailbox (null), or with its refusal. */
    async send(envelope: CommandEnvelope): Promise<CommandOutcome | null> {
      try {
        await client.workflow.signalWithStart<typeof aggregateWorkflow, [CommandEnvelope]>(aggregateWorkflowType, {
          ...startOptions(envelope),
          signal: commandSignal,
          signalArgs: [envelope],
        });
        return null;
      } catch (error) {
        if (isClosedWorkflow(error)) return closedOutcome(envelope);
        throw error;
      }
    },
  };
}

const isClosedWorkflow = (error: unknown) =>
  error instanceof WorkflowExecutionAlreadyStartedError ||
  (error instanceof Error && error.cause instanceof WorkflowExecutionAlreadyStartedError);

const closedOutcome = (envelope: CommandEnvelope): CommandOutcome =>
  rejectedOutcome(envelope, 0, {
    kind: 'AGGREGATE_CLOSED',
    code: 'AGGREGATE_WORKFLOW_CLOSED',
    message: `${envelope.aggregateType} ${envelope.aggregateId} was closed in Temporal and is not restarted empty`,
  });

export type CommandBus = ReturnType<typeof createCommandBus>;

export const newCommandId = () => randomUUID();
