import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TRPCClientError } from '@trpc/client';
import type { EventEnvelope } from '../../core/envelopes';
import { recentEventsQuery, type AggregateEnd } from '../../workflows/definitions';
import type { LedgerRouter } from '../support/domains/ledger.config';
import { eventually, startLedgerStack, uniqueId, type LedgerStack } from '../support/stack';

const failure = async (call: Promise<unknown>) => {
  const error = await call.then(() => assert.fail('expected a rejection'), (e: unknown) => e);
  assert.ok(error instanceof TRPCClientError, String(error));
  return error as TRPCClientError<LedgerRouter>;
};

/** The workflow as Temporal holds it (not its lagging visibility index): the latest run, or the run named. */
const describeRun = (stack: LedgerStack, workflowId: string, runId?: string) => stack.temporal.workflow.getHandle(workflowId, runId).describe();
/** The first run of the chain a run belongs to (a continue-as-new keeps it; a fresh start is its own). */
const firstRunOf = (description: Awaited<ReturnType<typeof describeRun>>) => description.raw.workflowExecutionInfo?.firstRunId;
const endOf = (stack: LedgerStack, workflowId: string, runId: string) => stack.temporal.workflow.getHandle(workflowId, runId).result() as Promise<AggregateEnd>;

describe('aggregate lifecycle', { timeout: 180_000 }, () => {
  let stack: LedgerStack;
  before(async () => {
    stack = await startLedgerStack();
  });
  after(async () => {
    await stack?.stop();
  });

  it('completes a terminal aggregate once its events are published; later commands get its _CLOSED code, a retry its first answer', async () => {
    const accountId = uniqueId('done');
    await stack.trpc.account.deposit.mutate({ accountId, entryId: 'in', amount: 6 });
    await stack.trpc.account.withdraw.mutate({ accountId, entryId: 'out', amount: 6 });
    const closeId = `${accountId}-close`;
    const closed = await stack.trpc.account.close.mutate({ accountId, commandId: closeId, wait: 'projected' });
    assert.equal(closed.version, 3);
    const done = await eventually(async () => {
      const description = await describeRun(stack, `account:${accountId}`);
      return description.status.name === 'COMPLETED' ? description : undefined;
    }, 30_000, 'workflow completed');
    const end = await endOf(stack, `account:${accountId}`, done.runId);
    assert.deepEqual(end.end === 'terminal' ? [end.end, end.version, end.code] : end, ['terminal', 3, 'ACCOUNT_CLOSED']);

    for (const wait of ['processed', 'none', 'projected'] as const) {
      const refused = await failure(stack.trpc.account.deposit.mutate({ accountId, entryId: 'too-late', amount: 1, wait }));
      assert.equal(refused.data?.code, 'PRECONDITION_FAILED', wait);
      assert.equal(refused.data?.domainCode, 'ACCOUNT_CLOSED', wait);
      assert.equal(refused.data?.retryable, false);
      assert.ok(refused.data?.commandId, 'the refusal names the command');
    }
    const again = await stack.trpc.account.close.mutate({ accountId, commandId: closeId });
    assert.deepEqual(again, { ...closed, status: 'processed' }, 'a retry of the closing answers its original outcome');
    const latest = await describeRun(stack, `account:${accountId}`);
    assert.deepEqual([latest.status.name, latest.runId], ['COMPLETED', done.runId], 'nothing restarted it: the completed run is still the latest');
    const doc = await stack.trpc.account.get.query({ accountId });
    assert.deepEqual([doc.status, doc.version, doc.entries.length, doc.balance], ['closed', 3, 2, 0]);
  });

  it('leaves no running workflow when an aggregate’s first commands are all refused, and lets the id be used later', async () => {
    const accountId = uniqueId('ghost');
    const refused = await failure(stack.trpc.account.withdraw.mutate({ accountId, entryId: 'nothing', amount: 1 }));
    assert.equal(refused.data?.domainCode, 'INSUFFICIENT_FUNDS');
    const refusedAgain = await failure(stack.trpc.account.assign.mutate({ accountId, holderId: uniqueId('nobody') }));
    assert.equal(refusedAgain.data?.domainCode, 'HOLDER_NOT_FOUND');
    // Both refusals are answered once decided; the run that decided them then ends without an event.
    const workflowId = `account:${accountId}`;
    const emptyRun = await eventually(async () => {
      const description = await describeRun(stack, workflowId);
      return description.status.name === 'COMPLETED' ? description : undefined;
    }, 30_000, 'the refused aggregate’s workflow completed');
    assert.deepEqual(await endOf(stack, workflowId, emptyRun.runId), { end: 'empty' });

    const added = await stack.trpc.account.deposit.mutate({ accountId, entryId: 'a', amount: 1 });
    assert.equal(added.version, 1, 'the id starts afresh: it never held an event');
    const reused = await describeRun(stack, workflowId);
    assert.equal(reused.status.name, 'RUNNING');
    assert.notEqual(reused.runId, emptyRun.runId, 'a new run, not the empty one reopened');
    assert.equal(firstRunOf(reused), reused.runId, 'started afresh, not continued from the empty run');
    assert.equal((await describeRun(stack, workflowId, emptyRun.runId)).status.name, 'COMPLETED', 'the empty run stays closed');
  });

  it('never restarts empty an aggregate whose workflow an operator terminated', async () => {
    const accountId = uniqueId('terminated');
    await stack.trpc.account.deposit.mutate({ accountId, entryId: 'a', amount: 1 });
    const { runId } = await describeRun(stack, `account:${accountId}`);
    await stack.temporal.workflow.getHandle(`account:${accountId}`).terminate('test: operator closed it');
    for (const wait of ['processed', 'none'] as const) {
      const error = await failure(stack.trpc.account.deposit.mutate({ accountId, entryId: 'b', amount: 1, wait }));
      assert.equal(error.data?.code, 'PRECONDITION_FAILED', wait);
      assert.equal(error.data?.domainCode, 'AGGREGATE_WORKFLOW_CLOSED', wait);
    }
    const latest = await describeRun(stack, `account:${accountId}`);
    assert.deepEqual([latest.status.name, latest.runId], ['TERMINATED', runId], 'no run was started after the terminated one');
  });
});

describe('a command with no worker to decide it', { timeout: 300_000 }, () => {
  let stack: LedgerStack;
  before(async () => {
    stack = await startLedgerStack({ worker: false, projector: false, env: { COMMAND_TIMEOUT_MS: '2000' } });
  });
  after(async () => {
    await stack?.stop();
  });

  it('answers 503 COMMAND_TIMEOUT naming its commandId; each such command, retried with its id once a worker runs, is applied exactly once', async (t) => {
    const accountId = uniqueId('noworker');
    const commandId = `${accountId}-1`;
    const sent: { entryId: string; commandId?: string; wait?: 'processed' | 'none' }[] = [
      { entryId: 'a0', commandId: `${commandId}-processed`, wait: 'processed' },
      { entryId: 'a1', commandId: `${commandId}-none`, wait: 'none' },
    ];
    const attempts = await Promise.all(sent.map((command) => failure(stack.trpc.account.deposit.mutate({ accountId, amount: 1, ...command }))));
    for (const [i, error] of attempts.entries()) {
      assert.equal(error.data?.code, 'SERVICE_UNAVAILABLE');
      assert.equal(error.data?.httpStatus, 503);
      assert.equal(error.data?.domainCode, 'COMMAND_TIMEOUT');
      assert.equal(error.data?.retryable, true);
      assert.equal(error.data?.commandId, sent[i]!.commandId);
      assert.match(error.message, new RegExp(`${commandId}`));
    }
    // Behind the first, more commands for the same aggregate do not pile up: each gets its answer in time.
    const behindEntries = Array.from({ length: 5 }, (_, i) => `b${i}`);
    const behind = await Promise.all(behindEntries.map((entryId) => failure(stack.trpc.account.deposit.mutate({ accountId, entryId, amount: 1 }))));
    assert.deepEqual(behind.map((e) => e.data?.domainCode), Array(5).fill('COMMAND_TIMEOUT'));
    // Each names the commandId the API gave it: the handle for finding out what became of it.
    const unsettled = [
      ...sent.map(({ entryId, commandId }) => ({ entryId, commandId: commandId! })),
      ...behind.map((error, i) => ({ entryId: behindEntries[i]!, commandId: error.data?.commandId ?? assert.fail(`b${i}: no commandId named`) })),
    ];
    assert.equal(new Set(unsettled.map((c) => c.commandId)).size, 7, 'seven distinct commandIds');

    // Every one of them "may have been applied": once a worker runs, the same commandId gets a definite answer.
    await stack.startWorker();
    const outcomes = [];
    for (const { entryId, commandId } of unsettled) {
      const outcome = await eventually(
        () =>
          stack.trpc.account.deposit.mutate({ accountId, entryId, amount: 1, commandId }).then(
            (result) => ({ applied: result }),
            (error: unknown) => {
              // Still no definite answer (the worker warming up): ask again. Anything else is the answer.
              if (error instanceof TRPCClientError && error.data?.domainCode === 'COMMAND_TIMEOUT') return undefined;
              return { refused: error instanceof TRPCClientError ? `${error.data?.code} ${error.data?.domainCode}` : String(error) };
            },
          ),
        120_000,
        `a definite answer for ${commandId}`,
      );
      outcomes.push({ entryId, commandId, ...outcome });
    }
    t.diagnostic(`retried outcomes: ${outcomes.map((o) => `${o.entryId}→${'applied' in o ? `v${o.applied.version}` : o.refused}`).join(', ')}`);
    assert.deepEqual(outcomes.filter((o) => !('applied' in o)), [], 'a deposit to an open account is applied');
    const applied = outcomes.map((o) => ('applied' in o ? o.applied : assert.fail('refused')));
    for (const [i, result] of applied.entries()) {
      assert.equal(result.status, 'processed');
      assert.equal(result.commandId, unsettled[i]!.commandId);
      assert.deepEqual(result.events, [{ type: 'Deposited', version: result.version, payload: { entryId: unsettled[i]!.entryId, amountCents: 100 } }]);
    }
    // One version per applied command, none shared, none skipped: nothing applied twice or lost.
    assert.deepEqual(applied.map((r) => r.version).sort((a, b) => a! - b!), [1, 2, 3, 4, 5, 6, 7]);
    const handle = stack.temporal.workflow.getHandle(`account:${accountId}`);
    assert.equal(await handle.query('version'), 7, 'the aggregate’s version is the number of commands that ended applied');
    assert.equal(((await handle.query('state')) as { balanceCents: number }).balanceCents, 700);
    const decided = (await handle.query(recentEventsQuery)) as EventEnvelope[];
    assert.deepEqual(
      decided.map((e) => (e.payload as { entryId: string }).entryId).sort(),
      ['a0', 'a1', 'b0', 'b1', 'b2', 'b3', 'b4'],
      'each entry applied once, whether or not its first attempt got through',
    );
  });
});
