/**
 * Ledger histories recorded on a running stack, for replay tests: accounts driven through every
 * path of the aggregate workflow (accepted, duplicate, rejected, several events in one decision,
 * a lookup, queued, terminal; an empty run; continue-as-new), fetched back from Temporal.
 */
import { WithStartWorkflowOperation, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { History } from '@temporalio/common/lib/proto-utils';
import { createCommandBus } from '../../commands/bus';
import type { CommandEnvelope } from '../../core/envelopes';
import { aggregateWorkflowType, submitUpdate, type AggregateWorkflow } from '../../workflows/definitions';
import { eventually, uniqueId, type LedgerStack } from './stack';

const command = (aggregateType: 'account' | 'holder', aggregateId: string, type: string, payload: Record<string, unknown>): CommandEnvelope => ({
  commandId: uniqueId(type),
  aggregateType,
  aggregateId,
  type,
  payload,
  metadata: { correlationId: aggregateId, issuedAt: new Date().toISOString() },
});

/** Runs the scenarios on `stack` and returns their histories by name (one per workflow run). */
export async function recordLedgerScenarios(stack: Pick<LedgerStack, 'temporal' | 'config'>): Promise<Record<string, History>> {
  const bus = createCommandBus(stack.temporal, { taskQueue: stack.config.TEMPORAL_TASK_QUEUE });
  const histories: Record<string, History> = {};

  // Lifecycle: accepted, duplicate, rejected, several events at once, queued, a holder looked up,
  // then closed (terminal: the workflow completes).
  const holderId = uniqueId('replay-holder');
  const accountId = uniqueId('replay-lifecycle');
  const account = (type: string, payload: Record<string, unknown>) => command('account', accountId, type, payload);
  await bus.submit(command('holder', holderId, 'register', { name: 'Ada' }));
  const first = account('deposit', { entryId: 'a', amount: 19.99 });
  await bus.submit(first);
  await bus.submit(first);
  await bus.submit(account('deposit', { entryId: 'b', amount: 0.1 }), 'accepted');
  await Promise.all([
    bus.submit(account('withdraw', { entryId: 'c', amount: 1000 })),
    bus.submit(account('depositMany', { entries: [{ entryId: 'd', amount: 1 }, { entryId: 'e', amount: 2 }] })),
    bus.submit(account('deposit', { entryId: 'f', amount: -1 })),
  ]);
  await bus.submit(account('assign', { holderId }));
  await bus.submit(account('withdraw', { entryId: 'g', amount: 23.09 }));
  await bus.submit(account('close', {}));
  histories.lifecycle = await closedHistory(stack, `account:${accountId}`);
  histories.holder = await stack.temporal.workflow.getHandle(`holder:${holderId}`).fetchHistory();

  // An account whose only command is refused: its workflow ends empty.
  const ghost = uniqueId('replay-empty');
  await bus.submit(command('account', ghost, 'withdraw', { entryId: 'x', amount: 1 }));
  histories.empty = await closedHistory(stack, `account:${ghost}`);

  // Continue-as-new: a tiny history budget makes the aggregate hand over several times.
  const long = uniqueId('replay-can');
  for (let i = 0; i < 40; i++) {
    const envelope = command('account', long, 'deposit', { entryId: `i${i}`, amount: 1 });
    // While it hands over, the aggregate refuses new commands for a moment (the bus would retry).
    await eventually(
      () =>
        stack.temporal.workflow
          .executeUpdateWithStart(submitUpdate, {
            args: [[envelope]],
            startWorkflowOperation: new WithStartWorkflowOperation<AggregateWorkflow>(aggregateWorkflowType, {
              workflowId: `account:${long}`,
              taskQueue: stack.config.TEMPORAL_TASK_QUEUE,
              args: [{ aggregateType: 'account', aggregateId: long, historyBudget: 60, recordDecisions: true, decideInActivity: true }],
              workflowIdConflictPolicy: 'USE_EXISTING',
            }),
          })
          .catch((error: unknown) => {
            if (error instanceof WorkflowUpdateFailedError && error.cause instanceof ApplicationFailure && error.cause.type === 'AGGREGATE_HANDING_OVER') return undefined;
            throw error;
          }),
      30_000,
      'accepted after the hand-over',
    );
  }
  let run = 0;
  for await (const execution of stack.temporal.workflow.list({ query: `WorkflowId = 'account:${long}'` })) {
    const handle = stack.temporal.workflow.getHandle(execution.workflowId, execution.runId);
    histories[`continue-as-new-run-${++run}`] = await handle.fetchHistory();
  }
  return histories;
}

/** The whole history of a workflow that completed. */
async function closedHistory(stack: Pick<LedgerStack, 'temporal'>, workflowId: string, timeoutMs = 30_000): Promise<History> {
  const handle = stack.temporal.workflow.getHandle(workflowId);
  await eventually(async () => ((await handle.describe()).status.name === 'COMPLETED' ? true : undefined), timeoutMs, `${workflowId} completed`);
  return handle.fetchHistory();
}
