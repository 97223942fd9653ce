import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { EventEnvelope } from '../../core/envelopes';
import { accountProjection } from '../support/domains/ledger/account';
import { envOf, eventually, startLedgerStack, uniqueId, type LedgerStack } from '../support/stack';
import { untilAnswered } from '../support/retry';
import { readStream } from '../support/stream';

const root = join(__dirname, '..', '..');

/** The worker as its own process, so the test can kill it like a crash would. */
function spawnWorker(stack: LedgerStack): ChildProcess {
  // Its metrics on a port of its own: another worker on this machine may hold the default 9464.
  const env = envOf(stack.config, { LEDGERFLOW_CONFIG: stack.app.path, WORKER_METRICS_PORT: '0' });
  return spawn(process.execPath, ['--import', 'tsx', join(root, 'bin', 'worker.ts')], { env, stdio: 'ignore' });
}

const exited = (child: ChildProcess) =>
  child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise<void>((resolve) => child.once('exit', () => resolve()));

describe('a worker killed mid-stream loses no command', { timeout: 180_000 }, () => {
  let stack: LedgerStack;
  let worker: ChildProcess | undefined;
  before(async () => {
    stack = await startLedgerStack({ worker: false });
  });
  after(async () => {
    worker?.kill('SIGKILL');
    if (worker) await exited(worker);
    await stack?.stop();
  });

  it('applies every command exactly once across a SIGKILL and restart of the only worker', async () => {
    const accounts = Array.from({ length: 8 }, () => uniqueId('crash'));
    const perAccount = 15;
    const queuedAccount = uniqueId('queued');
    const queued = 30;
    const firstQueuedId = `${queuedAccount}-first`;
    worker = spawnWorker(stack);

    let processed = 0;
    const senders = accounts.map(async (accountId) => {
      for (let i = 1; i <= perAccount; i++) {
        // With the worker down a command times out (503, retryable, naming its id): the sender retries it.
        const commandId = `${accountId}-${i}`;
        const result = await untilAnswered(commandId, () => stack.trpc.account.deposit.mutate({ accountId, entryId: `entry-${i}`, amount: 1.25, commandId }));
        assert.equal(result.version, i, `${accountId} command ${i} decided once, in order`);
        processed += 1;
      }
    });
    const signals = (async () => {
      for (let i = 1; i <= queued; i++) {
        const commandId = i === 1 ? firstQueuedId : `${queuedAccount}-${i}`;
        await untilAnswered(commandId, () => stack.trpc.account.deposit.mutate({ accountId: queuedAccount, entryId: `q-${i}`, amount: 0.1, wait: 'none', commandId }));
      }
    })();

    // Kill the worker once some commands went through, while the rest are still being sent.
    await eventually(async () => (processed >= 20 ? true : undefined), 60_000, '20 commands processed');
    worker.kill('SIGKILL');
    await exited(worker);
    const processedAtKill = processed;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    worker = spawnWorker(stack);

    await Promise.all([...senders, signals]);
    assert.ok(processedAtKill < accounts.length * perAccount, 'the kill happened mid-stream');

    // A retry of a command decided before the kill is answered from the aggregate's memory.
    const again = await stack.trpc.account.deposit.mutate({ accountId: queuedAccount, entryId: 'q-1', amount: 0.1, commandId: firstQueuedId });
    assert.equal(again.version, 1);

    // Every read model complete, and the log holds each version once (first sightings) in order.
    for (const accountId of [...accounts, queuedAccount]) {
      const expected = accountId === queuedAccount ? queued : perAccount;
      const doc = await eventually(async () => {
        const d = await stack.readModels.get(accountProjection, accountId);
        return d?.version === expected ? d : undefined;
      }, 30_000, `${accountId} projected to version ${expected}`);
      assert.equal(doc.entries.length, expected);
      assert.equal(new Set(doc.entries.map((e) => e.entryId)).size, expected, `${accountId}: no entry applied twice`);
      assert.equal(doc.balance, accountId === queuedAccount ? 3 : 18.75, `${accountId}: the balance counts each deposit once`);
    }
    const messages = await readStream(stack.rabbit, stack.config.EVENTS_STREAM, (ms) => new Set(ms.map((m) => m.messageId)).size >= accounts.length * perAccount + queued, 30_000);
    for (const accountId of accounts) {
      const versions = messages.map((m) => m.body as EventEnvelope).filter((e) => e.aggregateId === accountId).map((e) => e.version);
      const firstSightings = versions.filter((v, i) => versions.indexOf(v) === i);
      assert.deepEqual(firstSightings, Array.from({ length: perAccount }, (_, i) => i + 1), `${accountId}: versions gapless and in order`);
    }
  });
});
