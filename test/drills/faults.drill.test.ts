/**
 * Fault drills: full load on a hot aggregate and on many aggregates while one part of the
 * stack is taken away, then an account of every acknowledged command, per account
 * (support/verify.ts): nothing acknowledged may be lost or applied twice, every statement must
 * hold exactly the entries its commands made, and the API process may not die. Each drill also shows its fault took effect,
 * with a figure taken while it lasted.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WorkflowNotFoundError } from '@temporalio/common';
import { aggregateLimits } from '../../core/limits';
import { projectionKeys } from '../../projectors/keys';
import { followTail } from '../../projectors/stream';
import { buffersQuery, stateQuery, versionQuery } from '../../workflows/definitions';
import { statementProjection, type AccountState } from '../support/domains/ledger/account';
import { eventually, uniqueId } from '../support/stack';
import { startDrillStack, type DrillStack } from './support/drill-stack';
import { createTally, describeBetween, runFor, startLoad, tallyBetween, type AccountCommand, type Load } from './support/load';
import { assertAccounted, audit, describeReport, type DrillReport } from './support/verify';

const load = { hotSenders: 25, manySenders: 25, accountsPerSender: 4 };

describe('fault drills under full load (a stack the drills own)', { timeout: 1_500_000 }, () => {
  let stack: DrillStack;
  const reports: DrillReport[] = [];
  before(async () => {
    stack = await startDrillStack();
  });
  after(async () => {
    for (const report of reports) console.log(describeReport(report));
    await stack?.stop();
  });

  /**
   * Runs load, breaks something in the middle of it, heals it, and accounts for every command,
   * per account. `fault` answers what it measured while the fault lasted (for the closing line).
   */
  async function drill(name: string, fault: (running: Load) => Promise<string>): Promise<DrillReport> {
    const running = startLoad({ apiUrl: stack.apiUrl, prefix: uniqueId(name), ...load });
    let figures: string;
    try {
      await runFor(3000);
      figures = await fault(running);
      await runFor(5000);
    } finally {
      await running.stop();
    }
    const report = { ...(await audit(stack, name, running)), fault: figures };
    reports.push(report);
    assertAccounted(report);
    return report;
  }

  it('stops RabbitMQ until the hot aggregate’s backlog is full, then brings it back', async () => {
    const report = await drill('rabbitmq', async (running) => {
      const stoppedAt = Date.now();
      await stack.broker.stop();
      const hot = stack.temporal.workflow.getHandle(`account:${running.hotAccount}`);
      await eventually(async () => {
        const { backlog } = await hot.query(buffersQuery);
        return backlog.bytes >= aggregateLimits.backlogBytes || backlog.events >= aggregateLimits.backlogEvents ? true : undefined;
      }, 180_000, 'the hot aggregate’s backlog reached its bound');
      // Refused, retried, refused: the senders keep at it until one is refused for the full backlog.
      const fullAt = Date.now();
      await eventually(
        async () => running.tally.retries.some((r) => r.at >= fullAt && r.code === 'AGGREGATE_BACKLOG_FULL') || undefined,
        120_000,
        'a command refused AGGREGATE_BACKLOG_FULL',
      );
      await stack.broker.start();
      return `broker down ${Date.now() - stoppedAt} ms: ${describeBetween(tallyBetween(running.tally, stoppedAt, Date.now()))}`;
    });
    assert.ok((report.refusedBy.AGGREGATE_BACKLOG_FULL ?? 0) > 0, 'the full backlog refused commands (retryable)');
  });

  it('carries 16,000 commands from 25 senders on one account through a 40-second RabbitMQ outage: each event answered once', async () => {
    // The reproduction that once left an account with 17 events no answer accounted for: commands
    // answered "may have been applied" during the outage and resent after many newer ones.
    const target = 16_000;
    const running = startLoad({ apiUrl: stack.apiUrl, prefix: uniqueId('outage'), hotSenders: 25, manySenders: 0, accountsPerSender: 1 });
    const sent = () => running.tally.commands.size;
    let figures: string;
    try {
      await eventually(async () => (sent() >= target / 4 ? true : undefined), 600_000, `${target / 4} commands sent`);
      const stoppedAt = Date.now();
      await stack.broker.stop();
      await runFor(40_000);
      await stack.broker.start();
      const restartedAt = Date.now();
      figures = `broker down ${restartedAt - stoppedAt} ms: ${describeBetween(tallyBetween(running.tally, stoppedAt, restartedAt))}`;
      await eventually(async () => (sent() >= target ? true : undefined), 900_000, `${target} commands sent`);
    } finally {
      await running.stop();
    }
    const report = { ...(await audit(stack, 'outage', running)), fault: `${sent()} commands sent; ${figures}` };
    reports.push(report);
    assertAccounted(report);
    // The write side too: the account decided one event per acknowledged command, no more.
    const version = await stack.temporal.workflow.getHandle(`account:${running.hotAccount}`).query(versionQuery);
    assert.equal(version, report.acknowledged, `the account's version is its acknowledged commands (${report.fault})`);
    assert.ok((report.refusedBy.AGGREGATE_BACKLOG_FULL ?? 0) > 0, 'the outage filled the backlog: commands were refused AGGREGATE_BACKLOG_FULL (and retried)');
  });

  it('stops Redis while /metrics is scraped and commands keep flowing', async () => {
    let during = tallyBetween(createTally(), 0, 0);
    await drill('redis', async (running) => {
      const stoppedAt = Date.now();
      await stack.redisServer.stop();
      const scrapes: number[] = [];
      let stale = 0;
      for (let i = 0; i < 30; i++) {
        const response = await fetch(`${stack.apiUrl}/metrics`);
        scrapes.push(response.status);
        if (/ledgerflow_projection_status_stale 1/.test(await response.text())) stale += 1;
        await runFor(300);
      }
      const restartedAt = Date.now();
      await stack.redisServer.start(); // empty: the projector rebuilds every read model from the log
      assert.deepEqual([...new Set(scrapes)], [200], 'every scrape answered');
      assert.ok(stale > 0, 'projection series marked stale');
      during = tallyBetween(running.tally, stoppedAt, restartedAt);
      return `Redis down ${restartedAt - stoppedAt} ms: ${describeBetween(during)}, ${stale}/30 scrapes stale`;
    });
    assert.ok(during.acknowledged > 0, 'commands were acknowledged while Redis was down');
  });

  it('SIGKILLs the worker and starts a new one', async () => {
    let refused = 0;
    await drill('worker', async (running) => {
      const killedAt = Date.now();
      await stack.kill('worker');
      // With no worker nothing is decided: a command sent now waits out its deadline and is
      // refused as "may have been applied", and its sender retries it with the same id. (On a
      // busy machine a command sent before the kill may time out too: those do not count.)
      await eventually(
        async () => running.tally.retries.some((r) => r.sentAt >= killedAt && r.code === 'COMMAND_TIMEOUT') || undefined,
        60_000,
        'a command sent after the kill refused COMMAND_TIMEOUT',
      );
      const restartedAt = Date.now();
      await stack.start('worker');
      const during = tallyBetween(running.tally, killedAt, restartedAt);
      refused = during.retries.COMMAND_TIMEOUT ?? 0;
      return `no worker for ${restartedAt - killedAt} ms: ${describeBetween(during)}`;
    });
    assert.ok(refused > 0, 'commands sent while no worker ran were refused COMMAND_TIMEOUT');
  });

  it('SIGKILLs the projector in the middle of its batches and starts a new one', async () => {
    const keys = projectionKeys(stack.config.REDIS_PREFIX, statementProjection.name);
    const checkpoint = async () => Number(await stack.redis.get(keys.checkpoint(Number(await stack.redis.hGet(keys.meta, 'generation')))));
    let pending = 0;
    let resumedFrom = 0;
    let tailAtRestart = 0;
    await drill('projector', async () => {
      await stack.kill('projector');
      const atKill = await checkpoint();
      await runFor(1000);
      // The log's tail while the projector is down: the events it has yet to apply.
      const tail = followTail(stack.rabbit, stack.config.EVENTS_STREAM);
      try {
        tailAtRestart = await eventually(async () => ((tail.offset() ?? -1) >= 0 ? tail.offset()! : undefined), 30_000, 'the log’s tail');
      } finally {
        await tail.close();
      }
      resumedFrom = await checkpoint();
      assert.equal(resumedFrom, atKill, 'nothing moved the checkpoint while the projector was down');
      pending = tailAtRestart - resumedFrom;
      await stack.start('projector');
      // The new projector resumes from the checkpoint the killed one left, and passes the tail.
      const caughtUp = await eventually(async () => ((await checkpoint()) >= tailAtRestart ? checkpoint() : undefined), 120_000, 'the new projector passed the tail');
      return `killed at checkpoint ${atKill}, log tail ${tailAtRestart} at restart (${pending} events pending), resumed and reached ${caughtUp}`;
    });
    assert.ok(pending > 0, 'events were waiting for the projector when it came back');
  });

  it('restarts the Temporal server', async () => {
    let during = tallyBetween(createTally(), 0, 0);
    await drill('temporal', async (running) => {
      // An account no sender touches, so its state before and after the restart can be compared.
      const quiet = `${running.hotAccount}-quiet`;
      const quietCommands: AccountCommand[] = [
        { type: 'deposit', entryId: 'q1', amountCents: 1275 },
        { type: 'deposit', entryId: 'q2', amountCents: 1999 },
        { type: 'withdraw', entryId: 'q3', amountCents: 500 },
      ];
      for (const [i, command] of quietCommands.entries()) assert.equal(await running.send(quiet, `${quiet}-${i}`, command), 'acknowledged');
      const handle = (accountId: string) => stack.temporal.workflow.getHandle(`account:${accountId}`);
      const versionsBefore = await Promise.all(running.accounts.map((accountId) => handle(accountId).query(versionQuery).catch((error: unknown) => (error instanceof WorkflowNotFoundError ? 0 : Promise.reject(error)))));
      const quietState = await handle(quiet).query(stateQuery);

      const stoppedAt = Date.now();
      await stack.restartTemporal();
      const restartedAt = Date.now();
      during = tallyBetween(running.tally, stoppedAt, restartedAt);

      // Reloaded, not restarted empty: the quiet account is as it was, no account went back, and they keep going.
      assert.equal(await eventually(() => handle(quiet).query(versionQuery).catch(() => undefined), 120_000, 'the quiet account answers'), 3);
      assert.deepEqual(await handle(quiet).query(stateQuery), quietState);
      assert.deepEqual(quietState, { status: 'open', balanceCents: 2774, holderId: null } satisfies AccountState);
      const versionsAfter = await Promise.all(
        running.accounts.map((accountId) =>
          eventually(() => handle(accountId).query(versionQuery).catch((error: unknown) => (error instanceof WorkflowNotFoundError ? 0 : undefined)), 120_000, `${accountId} answers`),
        ),
      );
      const behind = running.accounts.filter((_, i) => versionsAfter[i]! < versionsBefore[i]!);
      assert.deepEqual(behind, [], 'no account’s version went back over the restart');
      assert.equal(await running.send(quiet, `${quiet}-3`, { type: 'withdraw', entryId: 'q4', amountCents: 2774 }), 'acknowledged');
      assert.equal(await handle(quiet).query(versionQuery), 4);
      return `Temporal down ${restartedAt - stoppedAt} ms: ${describeBetween(during)}; quiet account reloaded at version 3, then 4; none of ${versionsBefore.filter((v) => v > 0).length} accounts went back`;
    });
    // COMMAND_TIMEOUT happens on a busy machine anyway; TEMPORAL_UNAVAILABLE only while Temporal is away.
    assert.ok((during.retries.TEMPORAL_UNAVAILABLE ?? 0) > 0, 'commands sent while Temporal restarted were refused TEMPORAL_UNAVAILABLE (and retried)');
  });

  it('never lost the API process (or any other) along the way', () => {
    assert.equal(stack.roles.api.crashes, 0, stack.roles.api.tail.join('\n'));
    assert.equal(stack.roles.api.child?.exitCode, null, 'the API still runs');
    assert.equal(stack.roles.worker.crashes, 0, stack.roles.worker.tail.join('\n'));
    assert.equal(stack.roles.projector.crashes, 0, stack.roles.projector.tail.join('\n'));
  });
});
