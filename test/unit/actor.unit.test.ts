/**
 * The aggregate actor without Temporal: the workflow's handlers and loops reduced to calls,
 * decided by the engine's own decide step (as the decide activity does).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideStep } from '../../core/decider';
import type { CommandEnvelope, CommandOutcome } from '../../core/envelopes';
import { engineCodes } from '../../core/errors';
import { aggregateLimits, type AggregateLimits } from '../../core/limits';
import { AggregateActor, fitted } from '../../workflows/actor';
import type { AccountState } from '../support/domains/ledger/account';
import { payingAccount } from '../support/domains/payouts.config';

const occurredAt = '2024-05-01T10:00:05.000Z';

const command = (commandId: string, type: string, payload: Record<string, unknown>): CommandEnvelope => ({
  commandId,
  aggregateType: 'account',
  aggregateId: 'a1',
  type,
  payload,
  metadata: { correlationId: `corr-${commandId}`, issuedAt: '2024-05-01T10:00:00.000Z' },
});
/** A deposit of 2.50 under the command's own id; a withdrawal starts the payout process (payouts.config.ts). */
const add = (commandId: string) => command(commandId, 'deposit', { entryId: commandId, amount: 2.5 });
const withdraw = (commandId: string, amount: number) => command(commandId, 'withdraw', { entryId: commandId, amount });
const balanceOf = (actor: AggregateActor) => (actor.snapshot.state as AccountState).balanceCents;

/** An actor of account a1; `limits` lowers bounds (the engine's are literal constants, hence the cast). */
const actorOf = (options: { limits?: Partial<Record<keyof AggregateLimits, number>>; recorded?: boolean } = {}) =>
  new AggregateActor({
    aggregate: payingAccount,
    aggregateId: 'a1',
    recorded: options.recorded ?? true,
    limits: { ...aggregateLimits, ...options.limits } as AggregateLimits,
    now: () => Date.parse(occurredAt),
  });

/** One turn of the workflow's loop: the mailbox decided in one step and the decisions applied. */
const decide = (actor: AggregateActor, lookedUp?: Parameters<typeof decideStep>[3]) => {
  const step = actor.nextStep(occurredAt);
  return actor.applyStep(step.commands, decideStep(payingAccount, step, actor.limits, lookedUp));
};

/** A UUIDv7 of time `ms` (its last hex digit `tail`). */
const v7 = (ms: number, tail = '0') => `${ms.toString(16).padStart(12, '0').replace(/^(.{8})(.{4})$/, '$1-$2')}-7abc-9abc-00000000000${tail}`;

const statusOf = (outcomes: CommandOutcome[]) => outcomes.map((o) => (o.status === 'accepted' ? `${o.commandId}@${o.version}` : `${o.commandId}:${o.rejection.code}`));

describe('AggregateActor', () => {
  describe('accepting and deciding', () => {
    it('answers an update once its commands are decided, in mailbox order', () => {
      const actor = actorOf();
      const ticket = actor.submit([add('a'), add('b'), command('c', 'deposit', { entryId: 'x', amount: -1 })]);
      assert.equal(ticket.done(), false);
      assert.equal(actor.decidable(), true);
      const applied = decide(actor);
      assert.deepEqual(applied, { versionMoved: true, upsertVersion: false });
      assert.equal(ticket.done(), true);
      assert.deepEqual(statusOf(ticket.outcomes()), ['a@1', 'b@2', `c:${engineCodes.INVALID_PAYLOAD}`]);
      assert.equal(actor.snapshot.version, 2);
      assert.equal(balanceOf(actor), 500);
      assert.equal(actor.decidable(), false);
      assert.deepEqual(actor.buffers().mailbox, { commands: 0, bytes: 0 });
      assert.equal(actor.buffers().remembered, 3);
      assert.deepEqual(actor.recentEvents.map((e) => e.version), [1, 2]);
      assert.match(actor.details(), /_version 2_$/);
    });

    it('follows the recorded events, whatever decide would say today', () => {
      const actor = actorOf();
      actor.accept([add('a')]);
      const step = actor.nextStep(occurredAt);
      const [decision] = decideStep(payingAccount, step);
      assert.ok(decision && 'events' in decision);
      const events = decision.events.map((e) => ({ ...e, payload: { ...e.payload, amountCents: 999 } }));
      actor.applyStep(step.commands, [{ events }]);
      assert.equal(balanceOf(actor), 999);
    });

    it('upserts the version search attribute when it crosses a step of 10, and every time for runs from before', () => {
      const recorded = actorOf();
      const legacy = actorOf({ recorded: false });
      const upserts = { recorded: [] as boolean[], legacy: [] as boolean[] };
      for (let i = 0; i < 11; i++) {
        recorded.accept([add(`r${i}`)]);
        legacy.accept([add(`l${i}`)]);
        upserts.recorded.push(decide(recorded).upsertVersion);
        upserts.legacy.push(decide(legacy).upsertVersion);
      }
      assert.deepEqual(upserts.recorded, [...Array(9).fill(false), true, false]);
      assert.deepEqual(upserts.legacy, Array(11).fill(true));
    });

    it('refuses only the command whose lookup did not answer, retryable and not remembered, and decides the rest', () => {
      const actor = actorOf();
      const ticket = actor.submit([add('a'), add('b'), add('c')]);
      const applied = decide(actor, new Map([['b', { unavailable: 'holder did not answer' }]]));
      assert.equal(applied.waiting, undefined);
      assert.deepEqual(statusOf(ticket.outcomes()), ['a@1', `b:${engineCodes.LOOKUP_UNAVAILABLE}`, 'c@2']);
      const refused = ticket.outcomes()[1]!;
      assert.equal(refused.status === 'rejected' && refused.rejection.kind, 'UNAVAILABLE');
      assert.equal(actor.mailbox.length, 0, 'the mailbox went on');
      assert.equal(actor.decidable(), false);
      // Resent with its id, it is decided afresh.
      const retry = actor.submit([add('b')]);
      assert.deepEqual(actor.mailbox.map((c) => c.commandId), ['b']);
      decide(actor);
      assert.deepEqual(statusOf(retry.outcomes()), ['b@3']);
    });

    it('replays a step recorded before lookups were bounded as written: it waits, then decides again once resumed', () => {
      const actor = actorOf();
      const ticket = actor.submit([add('a'), add('b')]);
      const step = actor.nextStep(occurredAt);
      const [first] = decideStep(payingAccount, { ...step, commands: step.commands.slice(0, 1) });
      const applied = actor.applyStep(step.commands, [first!, { waiting: 'holder did not answer' }]);
      assert.equal(applied.waiting?.reason, 'holder did not answer');
      assert.equal(applied.waiting?.retryInMs, 500);
      assert.equal(applied.waiting?.command?.commandId, 'b');
      assert.deepEqual(actor.mailbox.map((c) => c.commandId), ['b']);
      assert.equal(actor.decidable(), false);
      actor.resume();
      assert.equal(actor.decidable(), true);
      assert.equal(decide(actor).waiting, undefined);
      assert.deepEqual(statusOf(ticket.outcomes()), ['a@1', 'b@2']);
    });
  });

  describe('dedupe by commandId', () => {
    it('answers a decided command from memory and decides it only once', () => {
      const actor = actorOf();
      actor.submit([add('a')]);
      decide(actor);
      assert.equal(actor.refusal([add('a')]), undefined);
      const retry = actor.submit([add('a')]);
      assert.equal(retry.done(), true);
      assert.deepEqual(statusOf(retry.outcomes()), ['a@1']);
      assert.equal(actor.mailbox.length, 0);
      assert.equal(actor.snapshot.version, 1);
    });

    it('joins a command to the mailbox once however often it arrives, and answers every update', () => {
      const actor = actorOf();
      const first = actor.submit([add('a')]);
      const second = actor.submit([add('a'), add('b')]);
      actor.accept([add('b')]);
      assert.deepEqual(actor.mailbox.map((c) => c.commandId), ['a', 'b']);
      decide(actor);
      assert.deepEqual(statusOf(first.outcomes()), ['a@1']);
      assert.deepEqual(statusOf(second.outcomes()), ['a@1', 'b@2']);
    });

    it('answers an acceptance in full, then compactly (version only), past its full-record bound', () => {
      const actor = actorOf({ limits: { acceptedOutcomesKept: 2 } });
      actor.accept([add('a'), add('b'), add('c')]);
      decide(actor);
      assert.equal(actor.buffers().remembered, 3);
      assert.deepEqual(actor.submit([add('c')]).outcomes()[0], { status: 'accepted', commandId: 'c', aggregateId: 'a1', version: 3, events: [{ type: 'Deposited', version: 3, payload: { entryId: 'c', amountCents: 250 } }] });
      assert.deepEqual(actor.submit([add('a')]).outcomes()[0], { status: 'accepted', commandId: 'a', aggregateId: 'a1', version: 1, events: [], eventsOmitted: true });
      assert.equal(actor.mailbox.length, 0);
    });

    it('keeps refusals apart: however many, they never push an acceptance out', () => {
      const actor = actorOf({ limits: { acceptedOutcomesKept: 1, acceptedIdsKept: 1, refusalsKept: 3 } });
      actor.accept([add('a')]);
      decide(actor);
      actor.accept(Array.from({ length: 50 }, (_, i) => withdraw(`r${i}`, 1_000)));
      decide(actor);
      assert.deepEqual(statusOf(actor.submit([add('a')]).outcomes()), ['a@1']);
      assert.deepEqual(statusOf(actor.submit([withdraw('r49', 1_000)]).outcomes()), ['r49:INSUFFICIENT_FUNDS']);
      assert.equal(actor.submit([withdraw('r0', 1_000)]).done(), false, 'an old refusal is decided afresh: it changed nothing');
      assert.equal(actor.buffers().remembered, 4);
    });

    it('refuses COMMAND_ID_EXPIRED an unknown UUIDv7 at or before the newest acceptance let go, and decides newer ones', () => {
      const now = Date.parse(occurredAt);
      const actor = actorOf({ limits: { acceptedOutcomesKept: 1, acceptedIdsKept: 1 } });
      actor.accept([add(v7(now - 3000)), add(v7(now - 2000)), add(v7(now - 1000))]);
      decide(actor); // the first is let go: the watermark is its time
      const unseenSameMs = v7(now - 3000, 'f');
      const retry = actor.submit([add(v7(now - 3000)), add(unseenSameMs), add(v7(now - 2000)), add(v7(now - 1000)), add(v7(now - 2999))]);
      assert.equal(retry.done(), false, 'the newer, unknown id waits in the mailbox');
      assert.deepEqual(actor.mailbox.map((c) => c.commandId), [v7(now - 2999)]);
      decide(actor);
      assert.deepEqual(statusOf(retry.outcomes()), [
        `${v7(now - 3000)}:${engineCodes.COMMAND_ID_EXPIRED}`,
        `${unseenSameMs}:${engineCodes.COMMAND_ID_EXPIRED}`,
        `${v7(now - 2000)}@2`,
        `${v7(now - 1000)}@3`,
        `${v7(now - 2999)}@4`,
      ]);
      const [expired] = retry.outcomes();
      assert.equal(expired?.status === 'rejected' && expired.rejection.kind, 'VERSION_CONFLICT');
      assert.match(expired?.status === 'rejected' ? expired.rejection.message : '', /may have been applied/);
      assert.equal(actor.snapshot.version, 4, 'nothing applied twice');
    });

    it('moves the watermark only by ids timed no later than they were decided (a clock ahead cannot block others)', () => {
      const now = Date.parse(occurredAt);
      const actor = actorOf({ limits: { acceptedOutcomesKept: 1, acceptedIdsKept: 1 } });
      actor.accept([add(v7(now + 3_600_000)), add('b'), add('c')]);
      decide(actor);
      assert.equal(actor.submit([add(v7(now - 1))]).done(), false, 'a new id from a sane clock is decided');
    });

    it('lets acceptances go after the retention (workflow time), then refuses their UUIDv7 retries', () => {
      let now = Date.parse(occurredAt);
      const actor = new AggregateActor({ aggregate: payingAccount, aggregateId: 'a1', recorded: true, retentionMs: 60_000, now: () => now });
      const first = v7(now - 10);
      actor.accept([add(first), add('plain')]);
      decide(actor);
      now += 59_000;
      actor.accept([add('later')]);
      decide(actor);
      assert.deepEqual(statusOf(actor.submit([add(first)]).outcomes()), [`${first}@1`]);
      now += 2_000;
      actor.accept([add('latest')]);
      decide(actor);
      assert.equal(actor.lookup(first).status, 'unknown');
      assert.deepEqual(statusOf(actor.submit([add(first)]).outcomes()), [`${first}:${engineCodes.COMMAND_ID_EXPIRED}`]);
      assert.deepEqual(statusOf(actor.submit([add('later')]).outcomes()), ['later@3']);
      assert.equal(actor.submit([add('plain')]).done(), false, 'an id that is not time-ordered has the retention (and count) only');
    });

    it('remembers a refusal that decided nothing (a bug in domain code) for lookups, and decides a resend afresh', () => {
      const actor = actorOf();
      const ticket = actor.submit([add('a')]);
      actor.applyStep(actor.nextStep(occurredAt).commands, [{ rejection: { kind: 'INTERNAL', code: engineCodes.DECIDE_FAILED, message: 'worker broke' } }]);
      assert.deepEqual(statusOf(ticket.outcomes()), [`a:${engineCodes.DECIDE_FAILED}`]);
      assert.deepEqual(actor.lookup('a'), { status: 'rejected', version: 0, rejection: { kind: 'INTERNAL', code: engineCodes.DECIDE_FAILED, message: 'worker broke' } });
      const resend = actor.submit([add('a')]);
      assert.equal(resend.done(), false);
      assert.deepEqual(actor.lookup('a'), { status: 'pending' });
      decide(actor);
      assert.deepEqual(statusOf(resend.outcomes()), ['a@1']);
      assert.deepEqual(actor.lookup('a'), { status: 'accepted', version: 1 });
      assert.deepEqual(actor.lookup('never'), { status: 'unknown' });
    });
  });

  describe('the update validator', () => {
    it('refuses an empty, oversized or misaddressed update for good', () => {
      const actor = actorOf({ limits: { commandsPerUpdate: 2 } });
      assert.equal(actor.refusal([])?.type, 'INVALID_UPDATE');
      assert.equal(actor.refusal([add('a'), add('b'), add('c')])?.type, 'INVALID_UPDATE');
      const other = { ...add('a'), aggregateId: 'a2' };
      assert.deepEqual(actor.refusal([other]), { type: 'INVALID_UPDATE', message: 'command a is not addressed to account:a1', retryable: false });
      assert.equal(actor.refusal([add('a')]), undefined);
    });

    it('refuses new commands while the mailbox is full, retryably', () => {
      const actor = actorOf({ limits: { mailboxCommands: 2 } });
      actor.accept([add('a'), add('b')]);
      const refusal = actor.refusal([add('c')]);
      assert.equal(refusal?.type, engineCodes.AGGREGATE_MAILBOX_FULL);
      assert.equal(refusal?.retryable, true);
      assert.equal(actor.refusal([add('a')]), undefined);
    });
  });

  describe('the unpublished backlog', () => {
    it('publishes in version order, in bounded batches, and not while draining for a hand-over', () => {
      const actor = actorOf();
      actor.accept([add('a'), add('b'), add('c')]);
      decide(actor);
      assert.equal(actor.publishable(), true);
      const batch = actor.nextBatch();
      assert.deepEqual(batch.map((e) => e.eventId), ['account:a1:1', 'account:a1:2', 'account:a1:3']);
      actor.published(batch.slice(0, 2));
      assert.deepEqual(actor.buffers().backlog.events, 1);
      actor.draining = true;
      assert.equal(actor.publishable(), false);
      actor.draining = false;
      actor.published(actor.nextBatch());
      assert.deepEqual(actor.buffers().backlog, { events: 0, bytes: 0 });
      assert.equal(actor.publishable(), false);
    });

    it('refuses new commands once the backlog is full and decides nothing more until it drains', () => {
      const actor = actorOf({ limits: { backlogEvents: 2 } });
      actor.accept([add('a'), add('b'), add('c')]);
      decide(actor); // the step stops at the bound: c waits
      assert.deepEqual(actor.mailbox.map((c) => c.commandId), ['c']);
      assert.equal(actor.backlogFull(), true);
      assert.equal(actor.decidable(), false);
      const refusal = actor.refusal([add('d')]);
      assert.equal(refusal?.type, engineCodes.AGGREGATE_BACKLOG_FULL);
      assert.equal(refusal?.retryable, true);
      assert.match(refusal!.message, /2 unpublished events/);
      assert.equal(actor.refusal([add('a'), add('c')]), undefined); // known ones are still answered
      actor.published(actor.nextBatch());
      assert.equal(actor.decidable(), true);
      assert.equal(actor.refusal([add('d')]), undefined);
    });
  });

  describe('hand-over', () => {
    it('refuses new commands once a hand-over is noted, and carries state, backlog, outcomes and starts to the next run', () => {
      const actor = actorOf();
      actor.accept([add('a'), withdraw('w', 1)]);
      decide(actor);
      assert.deepEqual(actor.pendingStarts.map((s) => s.workflowId), ['payout:a1.w']);
      assert.equal(actor.handOverReady(() => true), false); // noted only after something recorded
      actor.noteHandOver(() => false);
      assert.equal(actor.refusal([add('b')]), undefined);
      actor.noteHandOver(() => true);
      assert.equal(actor.handOverReady(() => false), true);
      assert.equal(actor.refusal([add('b')])?.type, engineCodes.AGGREGATE_HANDING_OVER);
      assert.equal(actor.refusal([add('a')]), undefined);

      const handed = actor.handOver();
      assert.deepEqual(Object.keys(handed), ['snapshot', 'mailbox', 'unpublished', 'outcomes', 'recentEvents', 'pendingStarts']);
      const next = new AggregateActor({ aggregate: payingAccount, aggregateId: 'a1', recorded: true, carried: JSON.parse(JSON.stringify(handed)) });
      assert.deepEqual(next.snapshot, actor.snapshot);
      assert.deepEqual(next.buffers(), actor.buffers());
      assert.deepEqual(next.pendingStarts, actor.pendingStarts);
      const retry = next.submit([add('a')]);
      assert.deepEqual(statusOf(retry.outcomes()), ['a@1']);
      assert.equal(next.refusal([add('b')]), undefined);
      assert.equal(next.finished(), false);
    });

    it('asks Temporal each time in runs from before recorded decisions', () => {
      const actor = actorOf({ recorded: false });
      assert.equal(actor.handOverReady(() => true), true);
      actor.noteHandOver(() => true);
      assert.equal(actor.handOverReady(() => false), false);
      assert.equal(actor.finished(), false);
    });

    it('lets recent events, then the oldest outcomes go should a hand-over come near its budget, raising the watermark', () => {
      const actor = actorOf({ limits: { acceptedOutcomesKept: 10 } });
      const ids = Array.from({ length: 20 }, (_, i) => v7(Date.parse(occurredAt) - 100 + i));
      actor.accept(ids.map(add));
      decide(actor);
      const handed = actor.handOver();
      assert.deepEqual(fitted(handed, 1_000_000), { carried: handed, trimmed: false });
      const outcomes = handed.outcomes!;
      const budget = JSON.stringify({ ...handed, recentEvents: [], outcomes: { ...outcomes, acceptedIds: [], accepted: outcomes.accepted.slice(6) } }).length;
      const { carried, trimmed } = fitted(handed, budget);
      assert.equal(trimmed, true);
      assert.deepEqual(carried.recentEvents, []);
      assert.deepEqual(carried.outcomes!.acceptedIds, []);
      assert.ok(carried.outcomes!.accepted.length < 10 && carried.outcomes!.accepted.length > 0);
      assert.deepEqual(carried.outcomes!.accepted, outcomes.accepted.slice(-carried.outcomes!.accepted.length));
      const next = new AggregateActor({ aggregate: payingAccount, aggregateId: 'a1', recorded: true, carried: carried, now: () => Date.parse(occurredAt) });
      assert.deepEqual(statusOf(next.submit([add(ids[0]!), add(ids[19]!)]).outcomes()), [`${ids[0]}:${engineCodes.COMMAND_ID_EXPIRED}`, `${ids[19]}@20`]);
    });

    it('takes over what a run from before remembered (the last outcomes, without times)', () => {
      const old = actorOf();
      old.accept([add('a'), withdraw('w', 1_000)]);
      decide(old);
      const { outcomes, ...handed } = old.handOver();
      const recentOutcomes = [...outcomes!.accepted, ...outcomes!.refused].map(({ at: _at, ...record }) => record);
      const next = new AggregateActor({ aggregate: payingAccount, aggregateId: 'a1', recorded: true, carried: { ...handed, recentOutcomes } });
      assert.deepEqual(statusOf(next.submit([add('a'), withdraw('w', 1_000)]).outcomes()), ['a@1', 'w:INSUFFICIENT_FUNDS']);
    });

    it('bounds the processes waiting to start: a decision that would overflow them is refused, retryable, and accepted once they started', () => {
      const actor = actorOf({ limits: { pendingStarts: 2 } });
      const ticket = actor.submit([add('a'), add('b'), withdraw('w1', 1), withdraw('w2', 1), withdraw('w3', 1), add('c')]);
      decide(actor);
      assert.deepEqual(statusOf(ticket.outcomes()), ['a@1', 'b@2', 'w1@3', 'w2@4', `w3:${engineCodes.PROCESS_STARTS_FULL}`, 'c@5']);
      const refused = ticket.outcomes()[4]!;
      assert.equal(refused.status === 'rejected' && refused.rejection.kind, 'UNAVAILABLE');
      assert.deepEqual(actor.pendingStarts.map((s) => s.workflowId), ['payout:a1.w1', 'payout:a1.w2']);
      actor.pendingStarts.shift(); // the workflow started one
      const retry = actor.submit([withdraw('w3', 1)]);
      decide(actor);
      assert.deepEqual(statusOf(retry.outcomes()), ['w3@6']);
      assert.deepEqual(actor.pendingStarts.map((s) => s.workflowId), ['payout:a1.w2', 'payout:a1.w3']);
    });

    it('bounds the bytes of the processes waiting to start, and refuses starts too large for any run as a bug', () => {
      const sizing = actorOf();
      sizing.accept([add('d'), withdraw('w0', 1)]);
      decide(sizing);
      const oneStart = JSON.stringify(sizing.pendingStarts[0]).length;
      const actor = actorOf({ limits: { pendingStartsBytes: Math.floor(oneStart * 1.5) } });
      const ticket = actor.submit([add('a'), add('b'), withdraw('w1', 1), withdraw('w2', 1)]);
      decide(actor);
      assert.deepEqual(statusOf(ticket.outcomes()), ['a@1', 'b@2', 'w1@3', `w2:${engineCodes.PROCESS_STARTS_FULL}`]);
      const tiny = actorOf({ limits: { pendingStartsBytes: 10 } });
      const refused = tiny.submit([add('a'), withdraw('w', 1)]);
      decide(tiny);
      assert.deepEqual(statusOf(refused.outcomes()), ['a@1', `w:${engineCodes.DECISION_TOO_LARGE}`]);
      assert.equal(tiny.pendingStarts.length, 0);
    });

    it('counts the processes waiting to start against the hand-over budget and never lets them go', () => {
      const actor = actorOf();
      actor.accept([...Array.from({ length: 20 }, (_, i) => add(`c${i}`)), withdraw('w', 1)]);
      decide(actor);
      const handed = actor.handOver();
      assert.equal(handed.pendingStarts?.length, 1);
      const forgotten = { ...handed.outcomes!, accepted: [], refused: [], acceptedIds: [] };
      const budget = JSON.stringify({ ...handed, recentEvents: [], outcomes: forgotten }).length + 1;
      const { carried, trimmed } = fitted(handed, budget);
      assert.equal(trimmed, true);
      assert.deepEqual(carried.pendingStarts, handed.pendingStarts);
      assert.deepEqual([carried.outcomes?.accepted, carried.outcomes?.refused, carried.outcomes?.acceptedIds], [[], [], []], 'every outcome let go before anything owed');
      assert.ok(JSON.stringify(carried).length <= budget + 32, 'only the raised watermark may have grown');
    });
  });

  describe('ending', () => {
    it('ends empty when no command was ever accepted, but not a carried run', () => {
      const actor = actorOf();
      assert.equal(actor.finished(), true);
      assert.deepEqual(actor.end(), { end: 'empty' });
      const carried = new AggregateActor({ aggregate: payingAccount, aggregateId: 'a1', recorded: true, carried: actor.handOver() });
      assert.equal(carried.finished(), false);
    });

    it('ends terminal once its events are published and its processes started', () => {
      const actor = actorOf();
      actor.accept([add('a'), withdraw('w', 2.5)]);
      decide(actor);
      assert.equal(actor.pendingStarts.length, 1, 'the withdrawal’s payout');
      actor.accept([command('close', 'close', {})]);
      const applied = decide(actor);
      assert.equal(applied.upsertVersion, true); // terminal: exact
      assert.equal(actor.finished(), false);
      actor.published(actor.nextBatch());
      assert.equal(actor.finished(), false);
      actor.pendingStarts.shift();
      assert.equal(actor.finished(), true);
      const end = actor.end();
      assert.equal(end.end, 'terminal');
      assert.deepEqual(end.end === 'terminal' && [end.version, end.code, end.recentOutcomes.map((o) => o.commandId), end.acceptedIds], [3, 'ACCOUNT_CLOSED', ['a', 'w', 'close'], []]);
    });
  });
});
