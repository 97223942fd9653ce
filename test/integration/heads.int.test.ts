import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WorkflowNotFoundError } from '@temporalio/common';
import { createCommandBus } from '../../commands/bus';
import { buildCommand } from '../../commands/envelope';
import type { CommandOutcome } from '../../core/envelopes';
import { engineCodes } from '../../core/errors';
import { aggregateLimits } from '../../core/limits';
import { aggregateWorkflowType, buffersQuery, versionQuery, type AggregateEnd } from '../../workflows/definitions';
import { accountProjection } from '../support/domains/ledger/account';
import { eventually, startLedgerStack, uniqueId, type LedgerStack } from '../support/stack';

/**
 * The edges of an aggregate's life that Temporal does not keep for it: a completed aggregate
 * whose workflow history is deleted is never started again at version 0, and a lookup of an
 * aggregate whose workflow cannot answer refuses that command and leaves the mailbox going.
 */
describe('an aggregate’s history and lookups at their edges', { timeout: 480_000 }, () => {
  let stack: LedgerStack;
  before(async () => {
    stack = await startLedgerStack({ api: false });
  });
  after(async () => {
    await stack?.stop();
  });

  const busOf = () => createCommandBus(stack.temporal, { taskQueue: stack.config.TEMPORAL_TASK_QUEUE, timeoutMs: 60_000 });
  const send = (bus: ReturnType<typeof busOf>, accountId: string, type: string, payload: Record<string, unknown> = {}) =>
    bus.submit(buildCommand({ aggregateType: 'account', aggregateId: accountId, type, payload }));
  const codeOf = (outcome: CommandOutcome) => (outcome.status === 'rejected' ? outcome.rejection.code : `accepted@${outcome.version}`);

  it('refuses a command to a closed account whose workflow was deleted, AGGREGATE_HISTORY_MISSING, deciding nothing at version 1', async () => {
    const bus = busOf();
    const accountId = uniqueId('deleted');
    const workflowId = `account:${accountId}`;
    assert.equal(codeOf(await send(bus, accountId, 'deposit', { entryId: 'in', amount: 2.5 })), 'accepted@1');
    assert.equal(codeOf(await send(bus, accountId, 'withdraw', { entryId: 'out', amount: 2.5 })), 'accepted@2');
    assert.equal(codeOf(await send(bus, accountId, 'close')), 'accepted@3');
    const end = (await stack.temporal.workflow.getHandle(workflowId).result()) as AggregateEnd;
    assert.equal(end.end, 'terminal');
    await eventually(async () => ((await stack.readModels.appliedVersion(accountProjection, 'account', accountId)) === 3 ? true : undefined), 60_000, 'the account read model at version 3');

    // What retention does to a completed workflow, done now.
    await stack.temporal.workflowService.deleteWorkflowExecution({ namespace: stack.config.TEMPORAL_NAMESPACE, workflowExecution: { workflowId } });
    await eventually(
      () => stack.temporal.workflow.getHandle(workflowId).describe().then(() => undefined, (error: unknown) => (error instanceof WorkflowNotFoundError ? true : undefined)),
      60_000,
      'the workflow deleted',
    );

    // A fresh API process (nothing cached) sends it a command that a new account would take.
    const outcome = await send(busOf(), accountId, 'deposit', { entryId: 'again', amount: 1 });
    assert.equal(codeOf(outcome), engineCodes.AGGREGATE_HISTORY_MISSING);
    assert.equal(outcome.status === 'rejected' && outcome.rejection.kind, 'AGGREGATE_CLOSED');
    assert.deepEqual(outcome.status === 'rejected' && outcome.rejection.details, { version: 3 });
    // The run that refused it decided nothing and ended empty; the next command is refused the same way.
    const refusedRun = stack.temporal.workflow.getHandle(workflowId);
    assert.deepEqual(await refusedRun.result(), { end: 'empty' });
    assert.equal(codeOf(await send(busOf(), accountId, 'close')), engineCodes.AGGREGATE_HISTORY_MISSING);
    assert.deepEqual(await stack.temporal.workflow.getHandle(workflowId).result(), { end: 'empty' });
    // Nothing reached the log at version 1 again: the read model still holds the first life only.
    assert.equal(await stack.readModels.appliedVersion(accountProjection, 'account', accountId), 3);
    const doc = await stack.readModels.get(accountProjection, accountId);
    assert.deepEqual([doc?.status, doc?.version, doc?.entries.map((e) => e.entryId)], ['closed', 3, ['in', 'out']]);
  });

  it('still creates a brand-new account at version 1 after checking', async () => {
    assert.equal(codeOf(await send(busOf(), uniqueId('fresh'), 'deposit', { entryId: 'in', amount: 1 })), 'accepted@1');
  });

  it('refuses an assignment whose holder cannot answer, LOOKUP_UNAVAILABLE, within the lookup bound, and decides the commands after it', async (t) => {
    // A holder whose workflow runs on a task queue no worker polls: a query to it never answers.
    const holderId = uniqueId('mute');
    await stack.temporal.workflow.start(aggregateWorkflowType, {
      workflowId: `holder:${holderId}`,
      taskQueue: uniqueId('nobody-polls'),
      args: [{ aggregateType: 'holder', aggregateId: holderId, recordDecisions: true, decideInActivity: true }],
    });
    const bus = busOf();
    const accountId = uniqueId('asking');
    assert.equal(codeOf(await send(bus, accountId, 'deposit', { entryId: 'first', amount: 1 })), 'accepted@1');
    const started = Date.now();
    const [assigned, deposited] = await Promise.all([send(bus, accountId, 'assign', { holderId }), send(bus, accountId, 'deposit', { entryId: 'after', amount: 1 })]);
    const took = Date.now() - started;
    assert.equal(codeOf(assigned), engineCodes.LOOKUP_UNAVAILABLE);
    assert.equal(assigned.status === 'rejected' && assigned.rejection.kind, 'UNAVAILABLE');
    assert.equal(codeOf(deposited), 'accepted@2', 'the mailbox went on');
    t.diagnostic(`refused in ${took} ms (the bound is ${aggregateLimits.lookupMs} ms per step; the bus would have answered COMMAND_TIMEOUT at 60 s)`);
    const account = stack.temporal.workflow.getHandle(`account:${accountId}`);
    assert.deepEqual((await account.query(buffersQuery)).mailbox, { commands: 0, bytes: 0 });
    // Nothing stalls it: the next command is decided at once.
    assert.equal(codeOf(await send(bus, accountId, 'deposit', { entryId: 'later', amount: 1 })), 'accepted@3');
    assert.equal(await account.query(versionQuery), 3);
    await stack.temporal.workflow.getHandle(`holder:${holderId}`).terminate('test over');
  });
});
