import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createCommandBus } from '../../commands/bus';
import type { CommandEnvelope, EventEnvelope } from '../../core/envelopes';
import { accountProjection, recentEntries } from '../support/domains/ledger/account';
import { versionQuery } from '../../workflows/definitions';
import { eventually, startLedgerStack, uniqueId, type LedgerStack } from '../support/stack';
import { readStream } from '../support/stream';

const senders = 5;
const perSender = 300;

describe('continue-as-new under load', { timeout: 300_000 }, () => {
  let stack: LedgerStack;
  before(async () => {
    stack = await startLedgerStack({ api: false, dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 200 } });
  });
  after(async () => {
    await stack?.stop();
  });

  it(`applies ${senders} x ${perSender} concurrent commands to one aggregate once each, in order, across several runs`, async () => {
    const accountId = uniqueId('hot');
    const envelope = (sender: number, i: number): CommandEnvelope => ({
      commandId: `${accountId}-${sender}-${i}`,
      aggregateType: 'account',
      aggregateId: accountId,
      // Each sender deposits a cent and withdraws it again: the balance never runs short.
      type: i % 2 === 0 ? 'deposit' : 'withdraw',
      payload: { entryId: `s${sender}-${i}`, amount: 0.01 },
      metadata: { correlationId: accountId, issuedAt: new Date().toISOString() },
    });
    // Each sender is its own command bus, as if from its own API process: their updates race.
    const outcomes = await Promise.all(
      Array.from({ length: senders }, async (_, sender) => {
        const bus = createCommandBus(stack.temporal, { taskQueue: stack.config.TEMPORAL_TASK_QUEUE });
        const results = [];
        for (let i = 0; i < perSender; i++) results.push(await bus.submit(envelope(sender, i)));
        return results;
      }),
    );

    const all = outcomes.flat();
    const rejected = all.filter((o) => o.status !== 'accepted');
    assert.deepEqual(rejected, [], 'nothing rejected, not even during a hand-over');
    const versions = all.map((o) => o.version).sort((a, b) => a - b);
    // (Retryable refusals would show above: none are expected under this load.)
    assert.deepEqual(versions, Array.from({ length: senders * perSender }, (_, i) => i + 1), 'each command has its own version');
    // Each sender's commands were decided in the order it sent them.
    for (const list of outcomes) assert.ok(list.every((o, i) => i === 0 || o.version > list[i - 1]!.version));

    const handle = stack.temporal.workflow.getHandle(`account:${accountId}`);
    // A query that reaches a run just handed over, before its first workflow task completed, is
    // refused by Temporal for that moment ("Failed to query Workflow"): ask again until it answers.
    const version = () => eventually(() => handle.query(versionQuery), 30_000, 'the aggregate answers its version query');
    assert.equal(await version(), senders * perSender);
    const history = await handle.fetchHistory();
    assert.ok((history.events?.length ?? 0) < 1000, 'the current run has a short history');
    await eventually(async () => {
      let n = 0;
      for await (const _ of stack.temporal.workflow.list({ query: `WorkflowId = 'account:${accountId}' AND ExecutionStatus = 'ContinuedAsNew'` })) n += 1;
      return n >= 3 ? n : undefined;
    }, 15_000, 'continued as new at least three times');

    // Retrying a command from the first run answers its original outcome: dedupe crossed runs.
    const bus = createCommandBus(stack.temporal, { taskQueue: stack.config.TEMPORAL_TASK_QUEUE });
    const retried = await bus.submit(envelope(0, perSender - 1));
    assert.deepEqual(retried, outcomes[0]![perSender - 1]);
    assert.equal(await version(), senders * perSender);

    // The log holds every version, first sightings in order; the read model has all entries.
    const total = senders * perSender;
    const messages = await readStream(stack.rabbit, stack.config.EVENTS_STREAM, (ms) => new Set(ms.map((m) => m.messageId)).size >= total, 60_000);
    const logged = messages.map((m) => (m.body as EventEnvelope).version);
    assert.deepEqual(
      logged.filter((v, i) => logged.indexOf(v) === i),
      Array.from({ length: total }, (_, i) => i + 1),
    );
    const doc = await eventually(async () => {
      const d = await stack.readModels.get(accountProjection, accountId);
      return d?.version === total ? d : undefined;
    }, 60_000, 'read model complete');
    assert.equal(doc.balance, 0, 'every sender withdrew what it deposited');
    assert.equal(doc.entries.length, Math.min(total, recentEntries), 'the read model lists the latest entries');
  });
});
