/**
 * Idempotency as a user meets it: a retry after many other commands (refusals, a hand-over) is
 * answered with its original outcome; one older than the aggregate remembers is refused, never
 * applied again; and a command answered `queued` can always be looked up, a bug included.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createAggregateWorker, type AggregateWorker } from '../../bin/worker';
import { createCommandBus } from '../../commands/bus';
import { buildCommand, newCommandId } from '../../commands/envelope';
import { engineCodes } from '../../core/errors';
import { recentEventsQuery, versionQuery } from '../../workflows/definitions';
import { loadTestApp } from '../support/apps';
import { eventually, startLedgerStack, uniqueId, type LedgerStack } from '../support/stack';

const refusals = 1_100;

describe('idempotency that does not lapse', { timeout: 300_000 }, () => {
  let stack: LedgerStack;
  let worker: AggregateWorker | undefined;
  before(async () => {
    // The buggy release of the ledger (a deposit with entry `bug` throws in decide); runs hand over every ~40 history events.
    stack = await startLedgerStack({ worker: false, projector: false, dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 40 } });
    worker = await createAggregateWorker(await loadTestApp('buggy'), stack.config);
    void worker.run();
  });
  after(async () => {
    await worker?.shutdown();
    await stack?.stop();
  });

  const deposit = (accountId: string, entryId: string, commandId = newCommandId()) =>
    buildCommand({ aggregateType: 'account', aggregateId: accountId, type: 'deposit', commandId, payload: { entryId, amount: 1 } });

  it(`answers a retry after ${refusals} refused commands and a hand-over with its original outcome, applying nothing again`, async () => {
    const accountId = uniqueId('retry');
    const bus = createCommandBus(stack.temporal, { taskQueue: stack.config.TEMPORAL_TASK_QUEUE, timeoutMs: 120_000, maxQueuedPerAggregate: 2 * refusals });
    const original = deposit(accountId, 'kept');
    const first = await bus.submit(original);
    assert.equal(first.status, 'accepted');
    const refused = await Promise.all(
      Array.from({ length: refusals }, (_, i) =>
        bus.submit(buildCommand({ aggregateType: 'account', aggregateId: accountId, type: 'withdraw', payload: { entryId: `w${i}`, amount: 1_000 } })),
      ),
    );
    assert.deepEqual([...new Set(refused.map((o) => (o.status === 'rejected' ? o.rejection.code : o.status)))], ['INSUFFICIENT_FUNDS']);
    const handle = stack.temporal.workflow.getHandle(`account:${accountId}`);
    await eventually(async () => {
      for await (const _ of stack.temporal.workflow.list({ query: `WorkflowId = 'account:${accountId}' AND ExecutionStatus = 'ContinuedAsNew'` })) return true;
      return undefined;
    }, 30_000, 'handed over at least once');

    const retry = await bus.submit(original);
    assert.deepEqual(retry, first, 'the original outcome, events included');
    assert.equal(await handle.query(versionQuery), 1, 'applied once');
    assert.deepEqual((await handle.query(recentEventsQuery)).map((e) => e.commandId), [original.commandId]);
    // The same, asked by commandId through the API.
    const looked = await stack.trpc.system.commandOutcome.query({ aggregateType: 'account', aggregateId: accountId, commandId: original.commandId });
    assert.deepEqual({ status: looked.status, version: looked.version }, { status: 'accepted', version: 1 });
  });

  it('refuses COMMAND_ID_EXPIRED a retry older than the retention, never applying it twice', async () => {
    const accountId = uniqueId('expired');
    const retentionMs = 3_000;
    const bus = createCommandBus(stack.temporal, { taskQueue: stack.config.TEMPORAL_TASK_QUEUE, timeoutMs: 60_000, commandIdRetentionMs: retentionMs });
    const old = deposit(accountId, 'old');
    assert.equal((await bus.submit(old)).status, 'accepted');
    await new Promise((resolve) => setTimeout(resolve, retentionMs + 1_000));
    const newer = await bus.submit(deposit(accountId, 'newer')); // deciding lets the old one go
    assert.equal(newer.status === 'accepted' && newer.version, 2);

    const retry = await bus.submit(old);
    assert.equal(retry.status, 'rejected');
    assert.equal(retry.status === 'rejected' && retry.rejection.code, engineCodes.COMMAND_ID_EXPIRED);
    assert.match(retry.status === 'rejected' ? retry.rejection.message : '', /may have been applied/);
    assert.equal(await stack.temporal.workflow.getHandle(`account:${accountId}`).query(versionQuery), 2, 'nothing applied twice');
    // Through the API: 409 CONFLICT with the code, not retryable.
    await assert.rejects(
      stack.trpc.account.deposit.mutate({ accountId, entryId: 'old', amount: 1, commandId: old.commandId }),
      (error: { data?: { httpStatus?: number; domainCode?: string; retryable?: boolean } }) =>
        error.data?.httpStatus === 409 && error.data.domainCode === engineCodes.COMMAND_ID_EXPIRED && error.data.retryable === false,
    );
  });

  it('records an outcome for every command answered queued, a bug in decide included, and answers it by commandId', async () => {
    const accountId = uniqueId('queued');
    const lookup = (commandId: string) => stack.trpc.system.commandOutcome.query({ aggregateType: 'account', aggregateId: accountId, commandId });
    const fine = await stack.trpc.account.deposit.mutate({ accountId, entryId: 'fine', amount: 1, wait: 'none' });
    const buggy = await stack.trpc.account.deposit.mutate({ accountId, entryId: 'bug', amount: 1, wait: 'none' });
    assert.deepEqual([fine.status, buggy.status], ['queued', 'queued']);
    assert.match(buggy.commandId, /^[0-9a-f]{8}-[0-9a-f]{4}-7/, 'the client made a UUIDv7');

    const failed = await eventually(async () => {
      const status = await lookup(buggy.commandId);
      return status.status === 'pending' ? undefined : status;
    }, 30_000, 'the buggy command decided');
    assert.equal(failed.status, 'rejected');
    assert.deepEqual([failed.rejection?.kind, failed.rejection?.code], ['INTERNAL', engineCodes.DECIDE_FAILED]);
    assert.deepEqual({ ...(await lookup(fine.commandId)), rejection: null }, { aggregateType: 'account', aggregateId: accountId, commandId: fine.commandId, status: 'accepted', version: 1, rejection: null });
    assert.equal((await lookup('never-sent')).status, 'unknown');
    assert.equal((await stack.trpc.system.commandOutcome.query({ aggregateType: 'account', aggregateId: uniqueId('nobody'), commandId: 'x' })).status, 'unknown');

    // A resend of the INTERNAL refusal is decided afresh (the bug is still there: refused again), and the lookup follows.
    await assert.rejects(stack.trpc.account.deposit.mutate({ accountId, entryId: 'bug', amount: 1, commandId: buggy.commandId }), /TypeError/);
    assert.equal((await lookup(buggy.commandId)).rejection?.code, engineCodes.DECIDE_FAILED);

    // Closed: the aggregate's workflow ends, and its end still answers.
    await stack.trpc.account.withdraw.mutate({ accountId, entryId: 'out', amount: 1 });
    await stack.trpc.account.close.mutate({ accountId });
    await eventually(async () => ((await stack.temporal.workflow.getHandle(`account:${accountId}`).describe()).status.name === 'COMPLETED' ? true : undefined), 30_000, 'the closed account ended');
    assert.deepEqual([(await lookup(fine.commandId)).status, (await lookup(fine.commandId)).version], ['accepted', 1]);
    assert.equal((await lookup(buggy.commandId)).status, 'rejected');
  });
});
