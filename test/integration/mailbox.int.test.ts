import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createCommandBus } from '../../commands/bus';
import { buildCommand } from '../../commands/envelope';
import { aggregateLimits } from '../../core/limits';
import { buffersQuery, versionQuery } from '../../workflows/definitions';
import { eventually, startLedgerStack, uniqueId, type LedgerStack } from '../support/stack';

describe('the aggregate mailbox', { timeout: 180_000 }, () => {
  let stack: LedgerStack;
  before(async () => {
    stack = await startLedgerStack({ worker: false, projector: false, api: false });
  });
  after(async () => {
    await stack?.stop();
  });

  it('answers every command sent by more API processes than Temporal has in-flight updates, while no worker ran yet', async () => {
    const accountId = uniqueId('flood');
    const processes = 14; // more than the 10 in-flight updates a workflow takes
    const perProcess = 20;
    const buses = Array.from({ length: processes }, () => createCommandBus(stack.temporal, { taskQueue: stack.config.TEMPORAL_TASK_QUEUE, timeoutMs: 60_000 }));
    const command = (p: number, i: number) =>
      buildCommand({ aggregateType: 'account', aggregateId: accountId, type: i % 2 === 0 ? 'deposit' : 'withdraw', commandId: `${accountId}-${p}-${i}`, payload: { entryId: `p${p}-${i}`, amount: 0.01 } });
    const answers = buses.map(async (bus, p) => {
      const outcomes = [];
      for (let i = 0; i < perProcess; i++) outcomes.push(await bus.submit(command(p, i)));
      return outcomes;
    });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await stack.startWorker();

    const outcomes = (await Promise.all(answers)).flat();
    assert.deepEqual(outcomes.filter((o) => o.status !== 'accepted'), [], 'every command accepted');
    const versions = outcomes.map((o) => (o.status === 'accepted' ? o.version : 0)).sort((a, b) => a - b);
    assert.deepEqual(versions, Array.from({ length: processes * perProcess }, (_, i) => i + 1), 'each decided once, with its own version');
    assert.equal(await stack.temporal.workflow.getHandle(`account:${accountId}`).query(versionQuery), processes * perProcess);
  });

  it(`refuses an update of more than ${aggregateLimits.commandsPerUpdate} commands before it is recorded`, async () => {
    if (!stack.worker) await stack.startWorker();
    const accountId = uniqueId('big');
    const bus = createCommandBus(stack.temporal, { taskQueue: stack.config.TEMPORAL_TASK_QUEUE });
    const first = await bus.submit(buildCommand({ aggregateType: 'account', aggregateId: accountId, type: 'deposit', payload: { entryId: 'a', amount: 1 } }));
    assert.equal(first.status, 'accepted');
    const handle = stack.temporal.workflow.getHandle(`account:${accountId}`);
    // Once its event is published the aggregate is quiet: nothing else adds to its history.
    await eventually(async () => ((await handle.query(buffersQuery)).backlog.events === 0 ? true : undefined), 30_000, 'published');
    const before = (await handle.fetchHistory()).events?.length;
    const tooMany = Array.from({ length: aggregateLimits.commandsPerUpdate + 1 }, () =>
      buildCommand({ aggregateType: 'account', aggregateId: accountId, type: 'deposit', payload: { entryId: 'a', amount: 1 } }),
    );
    await assert.rejects(handle.executeUpdate('submit', { args: [tooMany] }), (error: Error) => /submit takes 1 to/.test(String(error.cause)));
    assert.equal((await handle.fetchHistory()).events?.length, before, 'a refused update leaves no trace in the history');
    assert.equal(await handle.query(versionQuery), 1);
  });
});
