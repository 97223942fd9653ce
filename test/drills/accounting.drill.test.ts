/**
 * The drill accounting can fail: run on one short load, it passes an honest stack, and reports
 * (naming the account) a projector that drops one event, a projector that applies one event
 * twice, and an aggregate that applies one command twice. The sabotaged projectors are the real
 * projection runtime running the ledger's statement projection with one handler wrapped; the
 * doubled command comes from a test release of the account (test/support/domains/twice.config.ts)
 * run by a real worker.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createAggregateWorker, type AggregateWorker } from '../../bin/worker';
import type { AnyProjection } from '../../core/projection';
import { createLogger } from '../../infra/logger';
import { topologyOf } from '../../infra/rabbit';
import { startProjector } from '../../projectors/runtime';
import { createReadModels } from '../../projectors/store';
import { loadTestApp } from '../support/apps';
import { statementProjection } from '../support/domains/ledger/account';
import { deleteKeys, startTestStack, uniqueId, type TestStack } from '../support/stack';
import { runFor, startLoad, type AccountCommand, type Load } from './support/load';
import { assertAccounted, audit, describeReport, type DrillReport } from './support/verify';

/** The statement projection with one event's handler sabotaged: skipped, or applied twice. */
function sabotaged(victimCommandId: string, how: 'drop' | 'twice'): AnyProjection {
  const base: AnyProjection = statementProjection;
  const handler = base.handlers['account.Deposited']!;
  return {
    ...base,
    handlers: {
      ...base.handlers,
      'account.Deposited': {
        ...handler,
        async apply(doc, event: { commandId: string }, read, id) {
          if (event.commandId !== victimCommandId) return handler.apply(doc, event, read, id);
          if (how === 'drop') return doc;
          return handler.apply(await handler.apply(doc, event, read, id), event, read, id);
        },
      },
    },
  };
}

const money = (cents: number) => (cents / 100).toFixed(2);

describe('the drill accounting catches a lost or doubled event', { timeout: 600_000 }, () => {
  let stack: TestStack;
  let worker: AggregateWorker | undefined;
  let load: Load;
  const reports: DrillReport[] = [];
  const log = createLogger('test', 'warn');

  before(async () => {
    stack = await startTestStack({ app: await loadTestApp('audited'), worker: false });
    worker = await createAggregateWorker(await loadTestApp('twice'), stack.config);
    void worker.run();
    load = startLoad({ apiUrl: stack.api!.url, prefix: uniqueId('acct'), hotSenders: 4, manySenders: 4, accountsPerSender: 2 });
    await runFor(5000);
    await load.stop();
  });
  after(async () => {
    for (const report of reports) console.log([describeReport(report), ...report.problems.map((p) => `  ${p}`)].join('\n'));
    await worker?.shutdown();
    await stack?.stop();
  });

  /** An acknowledged deposit that is not its account's last command (so the statement reaches the aggregate's version without it). */
  function victim() {
    const byAccount = new Map<string, string[]>();
    for (const [commandId, { accountId }] of load.tally.acknowledged) byAccount.set(accountId, [...(byAccount.get(accountId) ?? []), commandId]);
    for (const [accountId, ids] of byAccount) {
      if (accountId === load.hotAccount) continue;
      for (const commandId of ids.slice(0, -1)) {
        const { command } = load.tally.commands.get(commandId)!;
        if (command.type === 'deposit') return { commandId, accountId, entryId: command.entryId, amountCents: command.amountCents };
      }
    }
    throw new Error('the load left no deposit that a lost event would show');
  }

  /** Runs the real projection runtime with `projection` into keys of its own, and accounts against them. */
  async function auditWith(name: string, projection: AnyProjection): Promise<DrillReport> {
    const prefix = `${stack.config.REDIS_PREFIX}:${name}`;
    const projector = startProjector({ redis: stack.redis, rabbit: stack.rabbit, topology: topologyOf(stack.config), prefix, log }, [projection], {
      batchSize: 200,
      tickMs: 500,
      leaseMs: 3000,
    });
    try {
      const report = await audit({ ...stack, readModels: createReadModels(stack.redis, prefix) }, name, load, { readModelTimeoutMs: 60_000 });
      reports.push(report);
      return report;
    } finally {
      await projector.stop();
      await deleteKeys(stack.redis, `${prefix}:*`);
    }
  }

  const assertProblem = (report: DrillReport, line: string) => assert.ok(report.problems.includes(line), `${line}\nnot in:\n${report.problems.join('\n')}`);

  it('passes the honest stack (the same load, the stack’s own projector)', async () => {
    const report = await audit(stack, 'honest', load);
    reports.push(report);
    assert.ok(report.accounts > 4, `accounts accounted: ${report.accounts}`);
    assertAccounted(report);
  });

  it('reports a projector that drops one deposit, naming the account and the entry', async () => {
    const v = victim();
    const report = await auditWith('dropped', sabotaged(v.commandId, 'drop'));
    assert.deepEqual(report.offenders, [v.accountId], describeReport(report));
    assertProblem(report, `${v.accountId}: read model: entry ${v.entryId} missing (expected ${money(v.amountCents)})`);
    assert.equal(report.accountsMatching, report.accounts - 1);
    assert.equal(report.lost + report.doubled, 0, 'the log itself is whole');
    assert.throws(() => assertAccounted(report), assert.AssertionError, 'the drill fails');
  });

  it('reports a projector that applies one deposit twice, naming the account and the entry', async () => {
    const v = victim();
    const report = await auditWith('doubled', sabotaged(v.commandId, 'twice'));
    assert.deepEqual(report.offenders, [v.accountId], describeReport(report));
    const amount = money(v.amountCents);
    assertProblem(report, `${v.accountId}: read model: entry ${v.entryId} listed 2 times (${amount}, ${amount}), expected once (${amount})`);
    assert.equal(report.accountsMatching, report.accounts - 1);
    assert.throws(() => assertAccounted(report), assert.AssertionError, 'the drill fails');
  });

  it('reports a command the aggregate applied twice (two versions, one commandId), naming the account', async () => {
    // A load of its own (no senders): the test sends a few commands, one of them the `~twice` deposit.
    const own = startLoad({ apiUrl: stack.api!.url, prefix: uniqueId('twice'), hotSenders: 0, manySenders: 0, accountsPerSender: 0 });
    const accountId = `${own.hotAccount}-x`;
    const sent: AccountCommand[] = [
      { type: 'deposit', entryId: 'a', amountCents: 150 },
      { type: 'deposit', entryId: 'b~twice', amountCents: 275 },
      { type: 'withdraw', entryId: 'c', amountCents: 100 },
      { type: 'deposit', entryId: 'd', amountCents: 99 },
      { type: 'withdraw', entryId: 'e', amountCents: 200 },
    ];
    for (const [i, command] of sent.entries()) assert.equal(await own.send(accountId, `${accountId}-${i}`, command), 'acknowledged');
    const report = await audit(stack, 'applied twice', own);
    reports.push(report);
    assert.deepEqual(report.offenders, [accountId], describeReport(report));
    assert.equal(report.doubled, 1);
    assert.equal(report.lost, 0);
    for (const line of [
      `${accountId}: version 6, but 5 command(s) acknowledged`,
      `${accountId}: command ${accountId}-1 was applied 2 times: versions 2, 3`,
      `${accountId}: read model: entry b~twice listed 2 times (2.75, 2.75), expected once (2.75)`,
      `${accountId}: read model: balance 4.99, expected 2.24`,
    ]) {
      assertProblem(report, line);
    }
    assert.throws(() => assertAccounted(report), assert.AssertionError, 'the drill fails');
  });
});
