import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createAggregateWorker, type AggregateWorker } from '../../bin/worker';
import { createCommandBus } from '../../commands/bus';
import { buildCommand } from '../../commands/envelope';
import type { CommandOutcome, EventEnvelope } from '../../core/envelopes';
import type { AccountState } from '../support/domains/ledger/account';
import { stateQuery, versionQuery } from '../../workflows/definitions';
import { eventsInLog, versionsUpTo } from '../support/event-log';
import { startLedgerStack, uniqueId, type LedgerStack } from '../support/stack';
import { readStream } from '../support/stream';
import { loadTestApp } from '../support/apps';

/** What release 1 decided for each account's five commands, written out rather than folded by the code under test. */
const decidedBeforeDeploy = [
  { version: 1, type: 'Deposited', payload: { entryId: 'salary', amountCents: 1500 } },
  { version: 2, type: 'Deposited', payload: { entryId: 'b', amountCents: 200 } },
  { version: 3, type: 'Deposited', payload: { entryId: 'c', amountCents: 200 } },
  { version: 4, type: 'Deposited', payload: { entryId: 'd', amountCents: 200 } },
  { version: 5, type: 'Withdrawn', payload: { entryId: 'rent', amountCents: 700 } },
];
/** The account a user sees after them: 15.00 + 3 × 2.00 − 7.00 = 14.00. */
const accountBeforeDeploy: AccountState = { status: 'open', balanceCents: 1400, holderId: null };
/** After release 2 took a withdrawal of 3.00 it allows: 11.00. */
const accountAfterWithdrawal: AccountState = { ...accountBeforeDeploy, balanceCents: 1100 };

describe('a deploy that changes decide under running aggregates', { timeout: 240_000 }, () => {
  let stack: LedgerStack;
  let stricter: AggregateWorker | undefined;
  before(async () => {
    stack = await startLedgerStack({ api: false, projector: false });
  });
  after(async () => {
    await stricter?.shutdown();
    await stack?.stop();
  });

  it('continues every aggregate from exactly the events it decided: the same state, no version reused, no task failed', async () => {
    const bus = createCommandBus(stack.temporal, { taskQueue: stack.config.TEMPORAL_TASK_QUEUE, timeoutMs: 60_000 });
    const send = (accountId: string, type: string, payload: Record<string, unknown>) =>
      bus.submit(buildCommand({ aggregateType: 'account', aggregateId: accountId, type, payload }));
    const accepted = (outcome: CommandOutcome) => {
      assert.equal(outcome.status, 'accepted', JSON.stringify(outcome));
      return outcome;
    };

    // Release 1: any deposit, any withdrawal the balance covers. Each account takes what release 2 will refuse.
    const accounts = Array.from({ length: 4 }, () => uniqueId('deploy'));
    for (const accountId of accounts) {
      accepted(await send(accountId, 'deposit', { entryId: 'salary', amount: 15 }));
      for (const entryId of ['b', 'c', 'd']) accepted(await send(accountId, 'deposit', { entryId, amount: 2 }));
      accepted(await send(accountId, 'withdraw', { entryId: 'rent', amount: 7 }));
    }
    const decided = new Map<string, EventEnvelope[]>();
    for (const accountId of accounts) {
      const handle = stack.temporal.workflow.getHandle(`account:${accountId}`);
      const events = (await handle.query('recentEvents')) as EventEnvelope[];
      assert.deepEqual(events.map(({ version, type, payload }) => ({ version, type, payload })), decidedBeforeDeploy);
      decided.set(accountId, events);
      assert.deepEqual(await handle.query(stateQuery), accountBeforeDeploy, 'release 1 serves the account the commands made');
    }

    // Release 2 replaces the worker: its decide refuses a deposit over 5.00 and a withdrawal below a 10.00 balance.
    await stack.worker!.shutdown();
    stack.worker = undefined;
    stricter = await createAggregateWorker(await loadTestApp('stricter'), stack.config);
    void stricter.run();

    for (const accountId of accounts) {
      const handle = stack.temporal.workflow.getHandle(`account:${accountId}`);
      // The new worker has none of them cached: this replays each history with the new code.
      const state = (await handle.query(stateQuery)) as AccountState;
      assert.deepEqual(state, accountBeforeDeploy, 'the same account after the deploy: every entry decided before it');
      assert.equal(await handle.query(versionQuery), 5);

      // New commands are decided by the new rules, on top of the old decisions.
      const big = await send(accountId, 'deposit', { entryId: 'bonus', amount: 15 });
      assert.equal(big.status === 'rejected' && big.rejection.code, 'DEPOSIT_LIMIT');
      const deep = await send(accountId, 'withdraw', { entryId: 'car', amount: 5 });
      assert.equal(deep.status === 'rejected' && deep.rejection.code, 'MINIMUM_BALANCE');
      const withdrawn = accepted(await send(accountId, 'withdraw', { entryId: 'fee', amount: 3 }));
      assert.equal(withdrawn.version, 6, 'the next version, never one already published');
      assert.deepEqual(withdrawn.events.map(({ type, payload }) => ({ type, payload })), [{ type: 'Withdrawn', payload: { entryId: 'fee', amountCents: 300 } }]);
      assert.deepEqual(await handle.query(stateQuery), accountAfterWithdrawal, 'the fee taken, the rest as decided before the deploy');

      const history = await handle.fetchHistory();
      assert.equal(history.events?.filter((e) => e.workflowTaskFailedEventAttributes).length, 0, 'no workflow task failed');
    }

    // The log holds each account's versions 1..6, first sightings in version order, with the events
    // decided before the deploy. A retried publish may log an event again (at-least-once): each
    // copy must be that same event (same eventId and envelope); copies are counted, not hidden.
    const messages = await readStream(stack.rabbit, stack.config.EVENTS_STREAM, (ms) => new Set(ms.map((m) => m.messageId)).size >= accounts.length * 6, 30_000);
    let duplicates = 0;
    for (const accountId of accounts) {
      const logged = eventsInLog(messages, 'account', accountId);
      assert.deepEqual(logged.events.map((e) => e.version), versionsUpTo(6));
      assert.deepEqual(logged.events.slice(0, 5), decided.get(accountId));
      assert.deepEqual([logged.events[5]!.type, logged.events[5]!.payload], ['Withdrawn', { entryId: 'fee', amountCents: 300 }]);
      duplicates += logged.duplicates;
    }
    console.log(`deploy: ${accounts.length} accounts, ${messages.length} messages in the log, ${duplicates} re-published copies`);
  });
});
