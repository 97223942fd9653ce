import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { defineAggregate } from '../../core/aggregate';
import { decideCommand, lookupsNeeded, replay, type Snapshot } from '../../core/decider';
import type { CommandEnvelope, CommandOutcome } from '../../core/envelopes';
import { account, type AccountState } from '../support/domains/ledger/account';

const occurredAt = '2024-05-01T10:00:05.000Z';
const issuedAt = '2024-05-01T10:00:00.000Z';

const command = (type: string, payload: Record<string, unknown>, overrides: Partial<CommandEnvelope> = {}): CommandEnvelope => ({
  commandId: 'cmd-1',
  aggregateType: 'account',
  aggregateId: 'a1',
  type,
  payload,
  metadata: { correlationId: 'corr-1', issuedAt },
  ...overrides,
});

const depositApple = (overrides: Partial<CommandEnvelope> = {}) => command('deposit', { entryId: 'apple', amount: 19.99 }, overrides);
/** What `assign` looks up: an active holder at version 1. */
const activeHolder = { holder: { state: { status: 'active', name: 'Ada' }, version: 1 } };

const emptyAccount = (): Snapshot<AccountState> => replay<AccountState>(account, []);

const rejection = (outcome: CommandOutcome) => {
  assert.equal(outcome.status, 'rejected');
  return outcome.status === 'rejected' ? outcome.rejection : assert.fail('accepted');
};

/** Applies commands one after another, as the workflow does, and returns every decision. */
const run = (snapshot: Snapshot<AccountState>, commands: CommandEnvelope[]) => {
  const decisions = [];
  for (const next of commands) {
    const decision = decideCommand(account, snapshot, next, occurredAt, activeHolder);
    decisions.push(decision);
    snapshot = decision.snapshot;
  }
  return decisions;
};

describe('decideCommand', () => {
  describe('accepted commands', () => {
    it('wraps each decided event in a full envelope', () => {
      const decision = decideCommand(account, emptyAccount(), depositApple(), occurredAt);
      assert.deepEqual(decision.events, [
        {
          eventId: 'account:a1:1',
          aggregateType: 'account',
          aggregateId: 'a1',
          version: 1,
          type: 'Deposited',
          schemaVersion: 1,
          payload: { entryId: 'apple', amountCents: 1999 },
          occurredAt,
          commandId: 'cmd-1',
          correlationId: 'corr-1',
          causationId: 'cmd-1',
        },
      ]);
    });

    it('answers an accepted outcome with the new version and the events', () => {
      const decision = decideCommand(account, emptyAccount(), depositApple(), occurredAt);
      assert.deepEqual(decision.outcome, {
        status: 'accepted',
        commandId: 'cmd-1',
        aggregateId: 'a1',
        version: 1,
        events: [{ type: 'Deposited', version: 1, payload: { entryId: 'apple', amountCents: 1999 } }],
      });
    });

    it('evolves the snapshot without touching the one it was given', () => {
      const before = emptyAccount();
      const decision = decideCommand(account, before, depositApple(), occurredAt);
      assert.deepEqual(decision.snapshot, { state: { status: 'open', balanceCents: 1999, holderId: null }, version: 1 });
      assert.deepEqual(before, { state: { status: 'open', balanceCents: 0, holderId: null }, version: 0 });
    });

    it('numbers events gaplessly across commands, several from one command, with deterministic ids', () => {
      const decisions = run(emptyAccount(), [
        depositApple({ commandId: 'cmd-1' }),
        command('depositMany', { entries: [{ entryId: 'pear', amount: 0.5 }, { entryId: 'plum', amount: 1 }] }, { commandId: 'cmd-2' }),
        command('withdraw', { entryId: 'out', amount: 21.49 }, { commandId: 'cmd-3' }),
      ]);
      const events = decisions.flatMap((decision) => decision.events);
      assert.deepEqual(
        events.map(({ version, eventId, type, commandId }) => ({ version, eventId, type, commandId })),
        [
          { version: 1, eventId: 'account:a1:1', type: 'Deposited', commandId: 'cmd-1' },
          { version: 2, eventId: 'account:a1:2', type: 'Deposited', commandId: 'cmd-2' },
          { version: 3, eventId: 'account:a1:3', type: 'Deposited', commandId: 'cmd-2' },
          { version: 4, eventId: 'account:a1:4', type: 'Withdrawn', commandId: 'cmd-3' },
        ],
      );
      assert.deepEqual(decisions[1]?.outcome.version, 3, 'a command deciding two events answers the last version');
      assert.deepEqual(events[3]?.payload, { entryId: 'out', amountCents: 2149 });
      assert.deepEqual(decisions.at(-1)?.snapshot, { state: { status: 'open', balanceCents: 0, holderId: null }, version: 4 });
    });

    it('is deterministic: the same inputs give the same decision', () => {
      const snapshot = emptyAccount();
      assert.deepEqual(decideCommand(account, snapshot, depositApple(), occurredAt), decideCommand(account, snapshot, depositApple(), occurredAt));
    });

    it('takes causationId from the metadata when the sender gives one', () => {
      const decision = decideCommand(account, emptyAccount(), depositApple({ metadata: { correlationId: 'corr-9', causationId: 'evt-7', issuedAt } }), occurredAt);
      assert.equal(decision.events[0]?.causationId, 'evt-7');
      assert.equal(decision.events[0]?.correlationId, 'corr-9');
    });

    it('decides on the parsed payload', () => {
      const decision = decideCommand(account, emptyAccount(), command('deposit', { entryId: '  apple ', amount: 1 }), occurredAt);
      assert.deepEqual(decision.events[0]?.payload, { entryId: 'apple', amountCents: 100 });
    });

    it('decides on what the lookups give it', () => {
      const decision = decideCommand(account, emptyAccount(), command('assign', { holderId: 'h1' }), occurredAt, { holder: { state: { status: 'active', name: 'Ada' }, version: 7 } });
      assert.deepEqual(decision.events[0]?.payload, { holderId: 'h1', holderVersion: 7 });
      const { code } = rejection(decideCommand(account, emptyAccount(), command('assign', { holderId: 'h1' }), occurredAt, { holder: null }).outcome);
      assert.equal(code, 'HOLDER_NOT_FOUND');
    });

    it('accepts a command that decides no events, keeping the version', () => {
      const [, decision] = run(emptyAccount(), [command('assign', { holderId: 'h1' }), command('assign', { holderId: 'h1' }, { commandId: 'cmd-2' })]);
      assert.deepEqual(decision?.outcome, { status: 'accepted', commandId: 'cmd-2', aggregateId: 'a1', version: 1, events: [] });
      assert.deepEqual(decision?.events, []);
      assert.equal(decision?.snapshot.version, 1);
    });

    it('accepts a command whose expectedVersion matches', () => {
      const [first] = run(emptyAccount(), [depositApple()]);
      const decision = decideCommand(account, first!.snapshot, command('withdraw', { entryId: 'apple-back', amount: 19.99 }, { expectedVersion: 1 }), occurredAt);
      assert.equal(decision.outcome.status, 'accepted');
      assert.equal(decision.outcome.version, 2);
      assert.equal(decision.events[0]?.eventId, 'account:a1:2');
    });

    it('accepts expectedVersion 0 on a new aggregate', () => {
      assert.equal(decideCommand(account, emptyAccount(), depositApple({ expectedVersion: 0 }), occurredAt).outcome.status, 'accepted');
    });
  });

  describe('rejected commands', () => {
    it('rejects an unknown command type with UNKNOWN_COMMAND', () => {
      const outcome = decideCommand(account, emptyAccount(), command('explode', {}), occurredAt).outcome;
      assert.deepEqual(outcome, {
        status: 'rejected',
        commandId: 'cmd-1',
        aggregateId: 'a1',
        version: 0,
        rejection: { kind: 'INVALID_COMMAND', code: 'UNKNOWN_COMMAND', message: "account has no command 'explode'" },
      });
    });

    for (const inherited of ['toString', 'constructor', '__proto__', 'hasOwnProperty']) {
      it(`rejects the inherited property name '${inherited}' as UNKNOWN_COMMAND`, () => {
        const { kind, code } = rejection(decideCommand(account, emptyAccount(), command(inherited, {}), occurredAt).outcome);
        assert.deepEqual({ kind, code }, { kind: 'INVALID_COMMAND', code: 'UNKNOWN_COMMAND' });
      });
    }

    it('rejects an invalid payload with the field errors', () => {
      const { kind, code, details } = rejection(decideCommand(account, emptyAccount(), command('deposit', { entryId: 'apple', amount: 1.999 }), occurredAt).outcome);
      assert.equal(kind, 'INVALID_COMMAND');
      assert.equal(code, 'INVALID_PAYLOAD');
      assert.deepEqual(details, { formErrors: [], fieldErrors: { amount: ['must have at most two decimal places'] } });
      const negative = rejection(decideCommand(account, emptyAccount(), command('withdraw', { entryId: 'apple', amount: -1 }), occurredAt).outcome);
      assert.deepEqual(negative.details, { formErrors: [], fieldErrors: { amount: ['must be greater than 0'] } });
    });

    it('rejects a payload with a missing field', () => {
      const { code, details } = rejection(decideCommand(account, emptyAccount(), command('withdraw', { amount: 1 }), occurredAt).outcome);
      assert.equal(code, 'INVALID_PAYLOAD');
      const fieldErrors = (details as { fieldErrors: Record<string, string[]> }).fieldErrors;
      assert.deepEqual(Object.keys(fieldErrors), ['entryId']);
    });

    it('rejects a stale expectedVersion with VERSION_CONFLICT', () => {
      const [first] = run(emptyAccount(), [depositApple()]);
      const outcome = decideCommand(account, first!.snapshot, command('withdraw', { entryId: 'x', amount: 1 }, { expectedVersion: 0 }), occurredAt).outcome;
      const { kind, code, details } = rejection(outcome);
      assert.deepEqual({ kind, code, details }, { kind: 'VERSION_CONFLICT', code: 'VERSION_CONFLICT', details: { expected: 0, actual: 1 } });
      assert.equal(outcome.version, 1);
    });

    it('rejects an expectedVersion ahead of the aggregate with VERSION_CONFLICT', () => {
      const { details } = rejection(decideCommand(account, emptyAccount(), depositApple({ expectedVersion: 3 }), occurredAt).outcome);
      assert.deepEqual(details, { expected: 3, actual: 0 });
    });

    it('turns a DomainError from decide into a RULE_VIOLATED rejection', () => {
      const { kind, code } = rejection(decideCommand(account, emptyAccount(), command('withdraw', { entryId: 'x', amount: 1 }), occurredAt).outcome);
      assert.deepEqual({ kind, code }, { kind: 'RULE_VIOLATED', code: 'INSUFFICIENT_FUNDS' });
    });

    describe('on a closed account', () => {
      const closed = () =>
        run(emptyAccount(), [depositApple(), command('withdraw', { entryId: 'all', amount: 19.99 }, { commandId: 'cmd-2' }), command('close', {}, { commandId: 'cmd-3' })]).at(-1)!.snapshot;

      it('is terminal at version 3', () => {
        assert.equal(closed().version, 3);
        assert.equal(account.isTerminal(closed().state), true);
      });

      for (const [type, payload] of [
        ['deposit', { entryId: 'pear', amount: 1 }],
        ['withdraw', { entryId: 'pear', amount: 1 }],
        ['depositMany', { entries: [{ entryId: 'pear', amount: 1 }] }],
        ['assign', { holderId: 'h1' }],
        ['close', {}],
      ] as const) {
        it(`rejects ${type} with AGGREGATE_CLOSED / ACCOUNT_CLOSED`, () => {
          const { kind, code } = rejection(decideCommand(account, closed(), command(type, payload, { commandId: 'cmd-4' }), occurredAt, activeHolder).outcome);
          assert.deepEqual({ kind, code }, { kind: 'AGGREGATE_CLOSED', code: 'ACCOUNT_CLOSED' });
        });
      }

      it('still reports a malformed payload as INVALID_COMMAND', () => {
        const { kind } = rejection(decideCommand(account, closed(), command('deposit', { entryId: '' }), occurredAt).outcome);
        assert.equal(kind, 'INVALID_COMMAND');
      });
    });

    const rejectedCases: [string, () => Snapshot<AccountState>, CommandEnvelope][] = [
      ['an unknown command', emptyAccount, command('explode', {})],
      ['an invalid payload', emptyAccount, command('depositMany', { entries: [] })],
      ['a version conflict', emptyAccount, depositApple({ expectedVersion: 5 })],
      ['a rule violation', emptyAccount, command('withdraw', { entryId: 'x', amount: 1 })],
      ['a closed aggregate', () => replay<AccountState>(account, [{ type: 'AccountClosed', payload: {} }]), depositApple()],
    ];
    for (const [name, makeSnapshot, rejected] of rejectedCases) {
      it(`leaves the snapshot identical and emits nothing after ${name}`, () => {
        const snapshot = makeSnapshot();
        const copy = structuredClone(snapshot);
        const decision = decideCommand(account, snapshot, rejected, occurredAt);
        assert.equal(decision.outcome.status, 'rejected');
        assert.equal(decision.snapshot, snapshot);
        assert.deepEqual(snapshot, copy);
        assert.deepEqual(decision.events, []);
      });
    }
  });
});

describe('replay', () => {
  it('starts from the initial state at version 0', () => {
    assert.deepEqual(replay(account, []), { state: { status: 'open', balanceCents: 0, holderId: null }, version: 0 });
  });

  it('folds events and counts them as the version', () => {
    const snapshot = replay<AccountState>(account, [
      { type: 'Deposited', payload: { entryId: 'apple', amountCents: 1999 } },
      { type: 'Deposited', payload: { entryId: 'pear', amountCents: 50 } },
      { type: 'Withdrawn', payload: { entryId: 'fee', amountCents: 49 } },
      { type: 'HolderAssigned', payload: { holderId: 'h1', holderVersion: 1 } },
    ]);
    assert.deepEqual(snapshot, { state: { status: 'open', balanceCents: 2000, holderId: 'h1' }, version: 4 });
  });

  it('rebuilds the snapshot decideCommand reached from the events it emitted', () => {
    const decisions = run(emptyAccount(), [
      depositApple(),
      command('depositMany', { entries: [{ entryId: 'a', amount: 1 }, { entryId: 'b', amount: 2 }] }, { commandId: 'cmd-2' }),
      command('assign', { holderId: 'h1' }, { commandId: 'cmd-3' }),
      command('withdraw', { entryId: 'all', amount: 22.99 }, { commandId: 'cmd-4' }),
      command('close', {}, { commandId: 'cmd-5' }),
    ]);
    const events = decisions.flatMap((decision) => decision.events);
    assert.deepEqual(replay(account, events), decisions.at(-1)?.snapshot);
    assert.equal(account.isTerminal(replay<AccountState>(account, events).state), true);
  });
});

describe('lookupsNeeded', () => {
  // Written as an app writes it, with no annotation: `cond ? { name: ref } : {}` type-checks.
  const transfer = defineAggregate({
    name: 'transfer',
    idField: 'transferId',
    events: { Sent: z.object({ to: z.string() }) },
    initialState: () => ({ sent: 0 }),
    evolve: (state) => ({ sent: state.sent + 1 }),
    commands: { send: z.object({ to: z.string(), via: z.string().optional() }), ping: z.object({}) },
    errorCodes: [],
    lookups: (command) =>
      command.type === 'send' ? { to: { aggregateType: 'account', aggregateId: command.payload.to }, via: command.payload.via === undefined ? undefined : { aggregateType: 'account', aggregateId: command.payload.via } } : {},
    decide: (_state, command) => (command.type === 'send' ? [{ type: 'Sent', payload: { to: command.payload.to } }] : []),
  });

  it('names the aggregates a command reads, leaving out names without a reference', () => {
    assert.deepEqual(lookupsNeeded(transfer, command('send', { to: 'a2' }, { aggregateType: 'transfer' })), { to: { aggregateType: 'account', aggregateId: 'a2' } });
    assert.deepEqual(Object.keys(lookupsNeeded(transfer, command('send', { to: 'a2', via: 'a3' }, { aggregateType: 'transfer' }))), ['to', 'via']);
    assert.deepEqual(lookupsNeeded(transfer, command('ping', {}, { aggregateType: 'transfer' })), {});
  });

  it('needs none for a payload its schema refuses (decide refuses the command)', () => {
    assert.deepEqual(lookupsNeeded(transfer, command('send', { to: 42 }, { aggregateType: 'transfer' })), {});
  });
});
