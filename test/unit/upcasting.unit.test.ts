import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AnyAggregate } from '../../core/aggregate';
import { decideCommand, replay } from '../../core/decider';
import type { EventEnvelope } from '../../core/envelopes';
import { currentSchemaVersion, upcast, UpcastError } from '../../core/upcasting';
import { accountV2 } from '../support/account-v2';
import { account, type AccountState } from '../support/domains/ledger/account';

/** A Deposited exactly as the account writes it today: schema 1, no currency. */
const schema1 = (version: number, entryId: string): EventEnvelope => ({
  eventId: `account:a1:${version}`,
  aggregateType: 'account',
  aggregateId: 'a1',
  version,
  type: 'Deposited',
  schemaVersion: 1,
  payload: { entryId, amountCents: 150 },
  occurredAt: '2026-01-01T00:00:00.000Z',
  commandId: `cmd-${version}`,
  correlationId: 'corr',
  causationId: `cmd-${version}`,
});

describe('schema evolution', () => {
  it('derives each event type’s current schema version from its upcasters', () => {
    assert.equal(currentSchemaVersion(account, 'Deposited'), 1);
    assert.equal(currentSchemaVersion(accountV2, 'Deposited'), 2);
    assert.equal(currentSchemaVersion(accountV2, 'Withdrawn'), 1);
    assert.equal(currentSchemaVersion(accountV2, 'toString'), 1);
  });

  it('writes new events with the current schema version', () => {
    const decision = decideCommand(
      { ...accountV2, decide: () => [{ type: 'Deposited', payload: { entryId: 'a', amountCents: 1, currency: 'USD' } }] } as AnyAggregate,
      { state: accountV2.initialState(), version: 0 },
      { commandId: 'k', aggregateType: 'account', aggregateId: 'a1', type: 'close', payload: {}, metadata: { correlationId: 'k', issuedAt: '2026-01-01T00:00:00.000Z' } },
      '2026-01-01T00:00:00.000Z',
    );
    assert.equal(decision.events[0]!.schemaVersion, 2);
  });

  it('upcasts a schema-1 event to schema 2', () => {
    const upcasted = upcast(accountV2, schema1(1, 'salary'));
    assert.equal(upcasted.schemaVersion, 2);
    assert.deepEqual(upcasted.payload, { entryId: 'salary', amountCents: 150, currency: 'EUR' });
    assert.equal(upcasted.eventId, 'account:a1:1');
  });

  it('passes current events through untouched', () => {
    const current = { ...schema1(1, 'salary'), schemaVersion: 2, payload: { entryId: 'salary', amountCents: 100, currency: 'USD' } };
    assert.equal(upcast(accountV2, current), current);
  });

  it('refuses an event written by newer code', () => {
    assert.throws(() => upcast(account, { ...schema1(1, 'a'), schemaVersion: 2 }), UpcastError);
  });

  it('replays a log mixing schema 1 and schema 2 into the same state', () => {
    const snapshot = replay<AccountState>(accountV2, [
      schema1(1, 'salary'),
      { ...schema1(2, 'gift'), schemaVersion: 2, payload: { entryId: 'gift', amountCents: 20, currency: 'USD' } },
    ]);
    assert.deepEqual(snapshot.state, { status: 'open', balanceCents: 170, holderId: null });
    assert.equal(snapshot.version, 2);
  });
});
