import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { busDefaults } from '../../commands/bus';
import { buildCommand } from '../../commands/envelope';
import { createCommandQueue, takeBatch, type CommandQueueOptions, type Submitted, type Waiting } from '../../commands/queue';
import { configSchema } from '../../core/config';
import { engineCodes } from '../../core/errors';
import { aggregateLimits } from '../../core/limits';
import { acceptedOutcome } from '../../core/outcomes';

const command = (aggregateId: string, payload: Record<string, unknown> = {}) => buildCommand({ aggregateType: 'account', aggregateId, type: 'deposit', payload });
const settled = () => new Promise((resolve) => setImmediate(resolve));

/** A queue whose sends are held until released, recording each batch's commandIds per aggregate. */
function heldQueue(options: Partial<CommandQueueOptions> = {}) {
  const batches: { workflowId: string; commandIds: string[] }[] = [];
  const held: (() => void)[] = [];
  const queue = createCommandQueue({
    timeoutMs: 10_000,
    maxQueuedPerAggregate: 1_000,
    maxQueued: 20_000,
    async send(workflowId, batch) {
      batches.push({ workflowId, commandIds: batch.map((w) => w.envelope.commandId) });
      await new Promise<void>((resolve) => held.push(resolve));
      batch.forEach((w, i) => w.settle(acceptedOutcome(w.envelope, i + 1, [])));
    },
    ...options,
  });
  const release = async () => {
    held.shift()!();
    await settled();
  };
  return { queue, batches, release, held };
}

const refusalCode = (outcome: Submitted) => (outcome.status === 'rejected' ? [outcome.rejection.kind, outcome.rejection.code] : [outcome.status]);

describe('the command queue of an API process', () => {
  it('coalesces what arrives for an aggregate while its batch is in flight into the next batch', async () => {
    const { queue, batches, release } = heldQueue();
    const first = command('a-1');
    const later = [command('a-1'), command('a-1'), command('a-1')];
    const answers = [first, ...later].map((c) => queue.enqueue('account:a-1', c, 'processed'));
    assert.deepEqual(batches, [{ workflowId: 'account:a-1', commandIds: [first.commandId] }]);

    await release();
    assert.deepEqual(batches[1], { workflowId: 'account:a-1', commandIds: later.map((c) => c.commandId) });
    await release();
    const outcomes = await Promise.all(answers);
    assert.deepEqual(
      outcomes.map((o) => [o.status, o.commandId]),
      [first, ...later].map((c) => ['accepted', c.commandId]),
    );
    assert.equal(queue.queued, 0);
  });

  it('sends other aggregates their own batches at once, beside a batch in flight', async () => {
    const { queue, batches, release, held } = heldQueue();
    const answers = [queue.enqueue('account:a-1', command('a-1'), 'processed'), queue.enqueue('account:a-2', command('a-2'), 'processed')];
    assert.deepEqual(
      batches.map((b) => b.workflowId),
      ['account:a-1', 'account:a-2'],
    );
    while (held.length > 0) await release();
    assert.deepEqual((await Promise.all(answers)).map((o) => o.status), ['accepted', 'accepted']);
  });

  it('refuses a command beyond the bound for its aggregate with COMMAND_QUEUE_FULL, retryable, naming it', async () => {
    const { queue, release } = heldQueue({ maxQueuedPerAggregate: 2 });
    const accepted = [command('a-1'), command('a-1'), command('a-1')].map((c) => queue.enqueue('account:a-1', c, 'processed'));
    const over = command('a-1');
    const refused = await queue.enqueue('account:a-1', over, 'processed');
    assert.deepEqual(refusalCode(refused), ['UNAVAILABLE', engineCodes.COMMAND_QUEUE_FULL]);
    assert.equal(refused.commandId, over.commandId);
    assert.match(refused.status === 'rejected' ? refused.rejection.message : '', new RegExp(`command ${over.commandId}: .*3 commands \\(2 for this aggregate\\)`));
    // Another aggregate is not held back by this one's bound.
    const other = queue.enqueue('account:a-2', command('a-2'), 'processed');

    await release();
    await release();
    await release();
    assert.deepEqual((await Promise.all([...accepted, other])).map((o) => o.status), ['accepted', 'accepted', 'accepted', 'accepted']);
    // Drained: the aggregate takes commands again.
    const again = queue.enqueue('account:a-1', command('a-1'), 'processed');
    await release();
    assert.equal((await again).status, 'accepted');
  });

  it('refuses a command beyond the bound for all aggregates together, counting those in flight', async () => {
    const { queue, held, release } = heldQueue({ maxQueued: 2 });
    const accepted = [queue.enqueue('account:a-1', command('a-1'), 'processed'), queue.enqueue('account:a-2', command('a-2'), 'processed')];
    assert.equal(queue.queued, 2);
    assert.deepEqual(refusalCode(await queue.enqueue('account:a-3', command('a-3'), 'processed')), ['UNAVAILABLE', engineCodes.COMMAND_QUEUE_FULL]);
    while (held.length > 0) await release();
    await Promise.all(accepted);
    assert.equal(queue.queued, 0);
  });

  it('answers COMMAND_TIMEOUT, without sending it, for a command whose deadline passed while it waited', async () => {
    let now = 1_000_000;
    const { queue, batches, release } = heldQueue({ timeoutMs: 500, now: () => now });
    const first = queue.enqueue('account:a-1', command('a-1'), 'processed');
    const waiting = command('a-1');
    const late = queue.enqueue('account:a-1', waiting, 'processed');
    now += 500;
    await release();
    const outcome = await late;
    assert.deepEqual(refusalCode(outcome), ['UNAVAILABLE', engineCodes.COMMAND_TIMEOUT]);
    assert.equal(outcome.commandId, waiting.commandId);
    assert.equal(batches.length, 1, 'the expired command was not sent');
    assert.equal((await first).status, 'accepted');
    assert.equal(queue.queued, 0);
  });

  it('fails the commands left when sending throws unexpectedly, and takes new ones after', async () => {
    let calls = 0;
    const queue = createCommandQueue({
      timeoutMs: 10_000,
      maxQueuedPerAggregate: 10,
      maxQueued: 10,
      async send(_, batch) {
        calls += 1;
        if (calls === 1) throw new Error('a bug in send');
        for (const w of batch) w.settle(acceptedOutcome(w.envelope, 1, []));
      },
    });
    const inFlight = queue.enqueue('account:a-1', command('a-1'), 'processed');
    const behind = queue.enqueue('account:a-1', command('a-1'), 'processed');
    await assert.rejects(inFlight, /a bug in send/);
    await assert.rejects(behind, /a bug in send/);
    assert.equal(queue.queued, 0);
    assert.equal((await queue.enqueue('account:a-1', command('a-1'), 'processed')).status, 'accepted');
  });

  it('settles a command once: a second settle or fail is ignored', async () => {
    const queue = createCommandQueue({
      timeoutMs: 10_000,
      maxQueuedPerAggregate: 10,
      maxQueued: 10,
      async send(_, batch) {
        for (const w of batch) {
          w.settle({ status: 'queued', commandId: w.envelope.commandId, aggregateId: w.envelope.aggregateId });
          w.settle(acceptedOutcome(w.envelope, 1, []));
          w.fail(new Error('late'));
        }
      },
    });
    assert.equal((await queue.enqueue('account:a-1', command('a-1'), 'accepted')).status, 'queued');
    assert.equal(queue.queued, 0);
  });

  it('has the same default bounds as the config (1,000 per aggregate, 20,000 in all)', () => {
    const config = configSchema.parse({});
    assert.equal(config.COMMAND_QUEUE_PER_AGGREGATE, busDefaults.maxQueuedPerAggregate);
    assert.equal(config.COMMAND_QUEUE_TOTAL, busDefaults.maxQueued);
    assert.deepEqual([busDefaults.maxQueuedPerAggregate, busDefaults.maxQueued], [1_000, 20_000]);
  });
});

describe('taking a batch for one update', () => {
  const waiting = (count: number, bytes: number) => Array.from({ length: count }, () => ({ bytes }) as Pick<Waiting, 'bytes'>);

  it('takes at most commandsPerUpdate commands, leaving the rest in order', () => {
    const queue = waiting(aggregateLimits.commandsPerUpdate + 10, 100);
    const rest = queue.slice(aggregateLimits.commandsPerUpdate);
    assert.equal(takeBatch(queue).length, aggregateLimits.commandsPerUpdate);
    assert.deepEqual(queue, rest);
  });

  it('takes no more than updateBytes, but always the head even when it alone is larger', () => {
    const third = Math.floor(aggregateLimits.updateBytes / 3);
    const queue = waiting(5, third + 1);
    assert.equal(takeBatch(queue).length, 2);
    assert.equal(queue.length, 3);
    assert.equal(takeBatch(waiting(2, aggregateLimits.updateBytes + 1)).length, 1);
    assert.equal(takeBatch(waiting(3, third)).length, 3);
  });
});
