/**
 * A completed aggregate deleted: closed accounts whose workflows are deleted (what Temporal's
 * retention or an operator does) while load runs on others, then commands to them from fresh API
 * processes. Counts: commands to the deleted accounts that were accepted or started a run that
 * did not end empty (reborn), and the load's lost and doubled commands; asserts zero of each.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WorkflowNotFoundError } from '@temporalio/common';
import { createCommandBus } from '../../commands/bus';
import { buildCommand } from '../../commands/envelope';
import type { CommandOutcome } from '../../core/envelopes';
import { engineCodes } from '../../core/errors';
import type { AggregateEnd } from '../../workflows/definitions';
import { loadTestApp } from '../support/apps';
import { statementProjection } from '../support/domains/ledger/account';
import { eventually, startTestStack, uniqueId, type TestStack } from '../support/stack';
import { runFor, startLoad } from './support/load';
import { assertAccounted, audit, describeReport } from './support/verify';

const victims = 12;

describe('a completed aggregate deleted, under load', { timeout: 600_000 }, () => {
  let stack: TestStack;
  before(async () => {
    stack = await startTestStack({ app: await loadTestApp('audited') });
  });
  after(async () => {
    await stack?.stop();
  });

  it('never starts a deleted closed account again: every command to it refused AGGREGATE_HISTORY_MISSING, the load untouched', async (t) => {
    const bus = () => createCommandBus(stack.temporal, { taskQueue: stack.config.TEMPORAL_TASK_QUEUE, timeoutMs: 60_000 });
    const send = (accountId: string, type: string, payload: Record<string, unknown> = {}) =>
      bus().submit(buildCommand({ aggregateType: 'account', aggregateId: accountId, type, payload }));
    const prefix = uniqueId('deleted');
    const accounts = Array.from({ length: victims }, (_, i) => `${prefix}-v${i}`);
    const workflowIdOf = (accountId: string) => `account:${accountId}`;

    // Each victim lives and closes: three events.
    await Promise.all(
      accounts.map(async (accountId) => {
        for (const [type, payload] of [['deposit', { entryId: 'in', amount: 1 }], ['withdraw', { entryId: 'out', amount: 1 }], ['close', {}]] as const) {
          const outcome = await send(accountId, type, payload);
          assert.equal(outcome.status, 'accepted', `${accountId} ${type}`);
        }
      }),
    );
    for (const accountId of accounts) {
      assert.equal(((await stack.temporal.workflow.getHandle(workflowIdOf(accountId)).result()) as AggregateEnd).end, 'terminal');
      await eventually(async () => ((await stack.readModels.appliedVersion(statementProjection, 'account', accountId)) === 3 || undefined), 120_000, `${accountId} projected`);
    }

    const load = startLoad({ apiUrl: stack.url, prefix: uniqueId('beside'), hotSenders: 4, manySenders: 8, accountsPerSender: 2 });
    const outcomes: CommandOutcome[] = [];
    try {
      await runFor(3000);
      // Deleted under load, then sent commands a live account would take, several at once.
      await Promise.all(accounts.map((accountId) => stack.temporal.workflowService.deleteWorkflowExecution({ namespace: stack.config.TEMPORAL_NAMESPACE, workflowExecution: { workflowId: workflowIdOf(accountId) } })));
      for (const accountId of accounts) {
        await eventually(
          () => stack.temporal.workflow.getHandle(workflowIdOf(accountId)).describe().then(() => undefined, (error: unknown) => (error instanceof WorkflowNotFoundError ? true : undefined)),
          120_000,
          `${accountId} deleted`,
        );
      }
      for (let round = 0; round < 3; round++) {
        const sent = await Promise.all(
          accounts.flatMap((accountId) => [send(accountId, 'deposit', { entryId: `again-${round}`, amount: 5 }), send(accountId, 'deposit', { entryId: `twice-${round}`, amount: 5 })]),
        );
        outcomes.push(...sent);
      }
      await runFor(2000);
    } finally {
      await load.stop();
    }

    // Reborn: a command accepted, a run that did not end empty, or a read model moved past the first life.
    const accepted = outcomes.filter((o) => o.status === 'accepted').length;
    const codes = new Map<string, number>();
    for (const o of outcomes) if (o.status === 'rejected') codes.set(o.rejection.code, (codes.get(o.rejection.code) ?? 0) + 1);
    let runsNotEmpty = 0;
    let readModelsMoved = 0;
    for (const accountId of accounts) {
      const end = (await stack.temporal.workflow.getHandle(workflowIdOf(accountId)).result()) as AggregateEnd;
      if (end.end !== 'empty') runsNotEmpty += 1;
      const doc = await stack.readModels.get(statementProjection, accountId);
      if ((await stack.readModels.appliedVersion(statementProjection, 'account', accountId)) !== 3 || JSON.stringify(doc).includes('again')) readModelsMoved += 1;
    }
    const report = await audit(stack, 'deleted', load);
    const line =
      `deleted ${victims} closed accounts under load; ${outcomes.length} commands to them: ` +
      `${[...codes].map(([code, n]) => `${n} ${code}`).join(', ')}; reborn: ${accepted} accepted, ${runsNotEmpty} runs not empty, ${readModelsMoved} read models moved; ` +
      `load beside: ${describeReport(report)}`;
    t.diagnostic(line);
    console.log(line);
    assert.equal(accepted + runsNotEmpty + readModelsMoved, 0, 'reborn');
    assert.deepEqual([...codes.keys()], [engineCodes.AGGREGATE_HISTORY_MISSING]);
    assertAccounted(report);
  });
});
