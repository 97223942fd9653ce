/**
 * Fault drills: full load on a hot aggregate and on many aggregates while one part of the
 * stack is taken away, then an account of every acknowledged command. Nothing acknowledged may
 * be lost or applied twice, and the API process may not die.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { aggregateLimits } from '../../core/limits';
import { buffersQuery } from '../../workflows/definitions';
import { eventually, uniqueId } from '../support/stack';
import { startDrillStack, type DrillStack } from './support/drill-stack';
import { runFor, startLoad, type Load } from './support/load';
import { account, describeReport, type DrillReport } from './support/verify';

const load = { hotSenders: 25, manySenders: 25, cartsPerSender: 4 };

describe('fault drills under full load (a stack the drills own)', { timeout: 900_000 }, () => {
  let stack: DrillStack;
  const reports: DrillReport[] = [];
  before(async () => {
    stack = await startDrillStack();
  });
  after(async () => {
    for (const report of reports) console.log(describeReport(report));
    await stack?.stop();
  });

  /** Runs load, breaks something in the middle of it, heals it, and accounts for every command. */
  async function drill(name: string, fault: (running: Load) => Promise<void>): Promise<DrillReport> {
    const running = startLoad({ apiUrl: stack.apiUrl, prefix: uniqueId(name), ...load });
    try {
      await runFor(3000);
      await fault(running);
      await runFor(5000);
    } finally {
      await running.stop();
    }
    const report = await account(stack, name, running);
    reports.push(report);
    assert.deepEqual(report.failures, [], 'every command was answered done or retryable');
    assert.ok(report.acknowledged > 0);
    assert.equal(report.lost, 0, describeReport(report));
    assert.equal(report.doubled, 0, describeReport(report));
    assert.equal(report.eventsInReadModel, report.acknowledged, 'the read models hold one event per acknowledged command');
    return report;
  }

  it('stops RabbitMQ until the hot aggregate’s backlog is full, then brings it back', async () => {
    const report = await drill('rabbitmq', async (running) => {
      await stack.broker.stop();
      const hot = stack.temporal.workflow.getHandle(`cart:${running.hotCart}`);
      await eventually(async () => {
        const { backlog } = await hot.query(buffersQuery);
        return backlog.bytes >= aggregateLimits.backlogBytes || backlog.events >= aggregateLimits.backlogEvents ? true : undefined;
      }, 180_000, 'the hot aggregate’s backlog reached its bound');
      await runFor(3000); // refused, retried, refused: the senders keep at it
      await stack.broker.start();
    });
    assert.ok((report.refusedBy.AGGREGATE_BACKLOG_FULL ?? 0) > 0, 'the full backlog refused commands (retryable)');
  });

  it('stops Redis while /metrics is scraped and commands keep flowing', async () => {
    await drill('redis', async () => {
      await stack.redisServer.stop();
      const scrapes: number[] = [];
      let stale = 0;
      for (let i = 0; i < 30; i++) {
        const response = await fetch(`${stack.apiUrl}/metrics`);
        scrapes.push(response.status);
        if (/ledgerflow_projection_status_stale 1/.test(await response.text())) stale += 1;
        await runFor(300);
      }
      assert.deepEqual([...new Set(scrapes)], [200], 'every scrape answered');
      assert.ok(stale > 0, 'projection series marked stale');
      await stack.redisServer.start(); // empty: the projector rebuilds every read model from the log
    });
  });

  it('SIGKILLs the worker and starts a new one', async () => {
    await drill('worker', async () => {
      await stack.kill('worker');
      await runFor(2000);
      await stack.start('worker');
    });
  });

  it('SIGKILLs the projector in the middle of its batches and starts a new one', async () => {
    await drill('projector', async () => {
      await stack.kill('projector');
      await runFor(1000);
      await stack.start('projector');
    });
  });

  it('restarts the Temporal server', async () => {
    await drill('temporal', async () => {
      await stack.restartTemporal();
    });
  });

  it('never lost the API process (or any other) along the way', () => {
    assert.equal(stack.roles.api.crashes, 0, stack.roles.api.tail.join('\n'));
    assert.equal(stack.roles.api.child?.exitCode, null, 'the API still runs');
    assert.equal(stack.roles.worker.crashes, 0, stack.roles.worker.tail.join('\n'));
    assert.equal(stack.roles.projector.crashes, 0, stack.roles.projector.tail.join('\n'));
  });
});
