import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { EventEnvelope } from '../../core/envelopes';
import { cartProjection } from '../../examples/shop/domain';
import { envOf, eventually, startTestStack, uniqueId, type TestStack } from '../support/stack';
import { untilAnswered } from '../support/retry';
import { readStream } from '../support/stream';

const root = join(__dirname, '..', '..');

/** The worker as its own process, so the test can kill it like a crash would. */
function spawnWorker(stack: TestStack): ChildProcess {
  const env = envOf(stack.config);
  return spawn(process.execPath, ['--import', 'tsx', join(root, 'bin', 'worker.ts')], { env, stdio: 'ignore' });
}

const exited = (child: ChildProcess) =>
  child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise<void>((resolve) => child.once('exit', () => resolve()));

describe('a worker killed mid-stream loses no command', { timeout: 180_000 }, () => {
  let stack: TestStack;
  let worker: ChildProcess | undefined;
  before(async () => {
    stack = await startTestStack({ worker: false });
  });
  after(async () => {
    worker?.kill('SIGKILL');
    if (worker) await exited(worker);
    await stack?.stop();
  });

  it('applies every command exactly once across a SIGKILL and restart of the only worker', async () => {
    const carts = Array.from({ length: 8 }, () => uniqueId('crash'));
    const perCart = 15;
    const queuedCart = uniqueId('queued');
    const queued = 30;
    const firstQueuedId = `${queuedCart}-first`;
    worker = spawnWorker(stack);

    let processed = 0;
    const senders = carts.map(async (cartId) => {
      for (let i = 1; i <= perCart; i++) {
        // With the worker down a command times out (503, retryable, naming its id): the sender retries it.
        const commandId = `${cartId}-${i}`;
        const result = await untilAnswered(commandId, () => stack.trpc.cart.addItem.mutate({ cartId, itemId: `item-${i}`, quantity: 1, price: 1.25, commandId }));
        assert.equal(result.version, i, `${cartId} command ${i} decided once, in order`);
        processed += 1;
      }
    });
    const signals = (async () => {
      for (let i = 1; i <= queued; i++) {
        const commandId = i === 1 ? firstQueuedId : `${queuedCart}-${i}`;
        await untilAnswered(commandId, () => stack.trpc.cart.addItem.mutate({ cartId: queuedCart, itemId: `q-${i}`, quantity: 1, price: 0.1, wait: 'none', commandId }));
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
    assert.ok(processedAtKill < carts.length * perCart, 'the kill happened mid-stream');

    // A retry of a command decided before the kill is answered from the aggregate's memory.
    const again = await stack.trpc.cart.addItem.mutate({ cartId: queuedCart, itemId: 'q-1', quantity: 1, price: 0.1, commandId: firstQueuedId });
    assert.equal(again.version, 1);

    // Every read model complete, and the log holds each version once (first sightings) in order.
    for (const cartId of [...carts, queuedCart]) {
      const expected = cartId === queuedCart ? queued : perCart;
      const doc = await eventually(async () => {
        const d = await stack.readModels.get(cartProjection, cartId);
        return d?.version === expected ? d : undefined;
      }, 30_000, `${cartId} projected to version ${expected}`);
      assert.equal(doc.items.length, expected);
      assert.ok(doc.items.every((item) => item.quantity === 1), `${cartId}: no item applied twice`);
    }
    const messages = await readStream(stack.rabbit, stack.config.EVENTS_STREAM, (ms) => new Set(ms.map((m) => m.messageId)).size >= carts.length * perCart + queued, 30_000);
    for (const cartId of carts) {
      const versions = messages.map((m) => m.body as EventEnvelope).filter((e) => e.aggregateId === cartId).map((e) => e.version);
      const firstSightings = versions.filter((v, i) => versions.indexOf(v) === i);
      assert.deepEqual(firstSightings, Array.from({ length: perCart }, (_, i) => i + 1), `${cartId}: versions gapless and in order`);
    }
  });
});
