import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defineAggregate } from '../../core/aggregate';
import { decideStep, replay, type DecideStepInput } from '../../core/decider';
import type { CommandEnvelope, EventEnvelope } from '../../core/envelopes';
import { aggregateLimits as limits, jsonBytes, utf8Bytes } from '../../core/limits';
import { acceptedOutcome, recordOf, rejectedOutcome } from '../../core/outcomes';
import { linkedAggregates, linkedAggregatesBytes, type AggregateWorkflowInput } from '../../workflows/definitions';
import { OutcomeMemory } from '../../workflows/outcome-memory';
import { bulky } from '../support/domains/bulky.config';

const id = (n: number, char = 'x') => `${char}${String(n).padStart(6, '0')}`.padEnd(128, char);
const command = (n: number, type = 'shout', payload: Record<string, unknown> = { bytes: 10 }): CommandEnvelope => ({
  commandId: id(n),
  aggregateType: 'bulky',
  aggregateId: id(0, 'a'),
  type,
  payload,
  metadata: { correlationId: id(n, 'c'), causationId: id(n, 'k'), userId: id(n, 'u'), issuedAt: '2026-11-25T10:00:00.000Z' },
});
const step = (overrides: Partial<DecideStepInput>): DecideStepInput => ({
  aggregateType: 'bulky',
  aggregateId: id(0, 'a'),
  snapshot: replay(bulky, []),
  commands: [],
  occurredAt: '2026-11-25T10:00:01.000Z',
  backlog: { events: 0, bytes: 0 },
  ...overrides,
});

describe('the bounds an aggregate keeps', () => {
  it('counts JSON the way Temporal writes it: UTF-8 bytes, escapes included', () => {
    assert.equal(utf8Bytes('abc'), 3);
    assert.equal(utf8Bytes('é'), 2);
    assert.equal(utf8Bytes('€'), 3);
    assert.equal(utf8Bytes('😀'), 4);
    assert.equal(jsonBytes({ a: '"\n\u0001' }), Buffer.byteLength(JSON.stringify({ a: '"\n\u0001' })));
    assert.equal(jsonBytes({ text: '€😀é' }), Buffer.byteLength(JSON.stringify({ text: '€😀é' })));
  });

  it('keeps a remembered outcome within its bound whatever the rejection says', () => {
    const hostile = rejectedOutcome(command(1), 7, {
      kind: 'RULE_VIOLATED',
      code: 'SOME_RULE',
      message: '😀"\u0001'.repeat(5000),
      details: { huge: 'x'.repeat(100_000) },
    });
    const record = recordOf(hostile);
    assert.ok(jsonBytes(record) <= limits.outcomeRecordBytes, `${jsonBytes(record)} bytes`);
    assert.equal(record.status === 'rejected' && record.rejection.code, 'SOME_RULE');
    assert.equal(record.version, 7);
  });

  it('stops deciding at the backlog bound: the rest of the mailbox waits, nothing is refused', () => {
    const commands = Array.from({ length: 100 }, (_, i) => command(i, 'shout', { bytes: 10_000 }));
    const decisions = decideStep(bulky, step({ commands }));
    const bytes = decisions.reduce((sum, d) => sum + ('events' in d ? jsonBytes(d.events[0]) : 0), 0);
    assert.ok(decisions.length < commands.length, 'some commands were left for later');
    assert.ok(decisions.every((d) => 'events' in d), 'none refused');
    assert.ok(bytes >= limits.backlogBytes && bytes < limits.backlogBytes + limits.decisionBytes, `${bytes} bytes decided`);
  });

  it('refuses a command that would outgrow the state bound, and one that decides too much, changing nothing', () => {
    const grown = Array.from({ length: Math.ceil(limits.stateBytes / 15_000) + 2 }, (_, i) => command(i, 'grow', { bytes: 15_000 }));
    const decisions = decideStep(bulky, step({ commands: grown }));
    const refused = decisions.filter((d) => 'rejection' in d);
    assert.ok(refused.length > 0);
    assert.ok(refused.every((d) => 'rejection' in d && d.rejection.code === 'STATE_TOO_LARGE'));
    const tooLoud = decideStep(bulky, step({ commands: [command(1, 'shout', { bytes: limits.decisionBytes + 1 })] }));
    assert.deepEqual(tooLoud.map((d) => 'rejection' in d && d.rejection.code), ['DECISION_TOO_LARGE']);
  });

  it('carries under 70% of Temporal’s payload limit across continue-as-new in the worst case: every buffer full, every id at its longest', () => {
    // State at its bound (the engine refuses growth past it).
    const state = { chunks: ['g'.repeat(limits.stateBytes - 20)] };
    assert.ok(jsonBytes(state) <= limits.stateBytes);
    // The backlog at its bound plus one maximal decision (deciding stops once the bound is reached).
    const event = (version: number): EventEnvelope => ({
      eventId: `bulky:${id(0, 'a')}:${version}`,
      aggregateType: 'bulky',
      aggregateId: id(0, 'a'),
      version,
      type: 'Shouted',
      schemaVersion: 1,
      payload: { noise: 's'.repeat(limits.decisionBytes - 900) },
      occurredAt: '2026-11-25T10:00:01.000Z',
      commandId: id(version),
      correlationId: id(version, 'c'),
      causationId: id(version, 'k'),
    });
    assert.ok(jsonBytes(event(1)) <= limits.decisionBytes);
    const unpublished: EventEnvelope[] = [];
    let bytes = 0;
    for (let v = 1; bytes < limits.backlogBytes; v++) {
      unpublished.push(event(v));
      bytes += jsonBytes(event(v));
    }
    // Every remembered outcome at its bound, with the longest command ids: refusals, acceptances
    // in full (events filling their record), and compact acceptances until their byte bound.
    const memory = new OutcomeMemory(limits.commandIdRetentionMs, undefined);
    const at = Date.parse('2026-11-25T10:00:01.000Z');
    for (let i = 0; i < limits.refusalsKept; i++) {
      memory.remember(rejectedOutcome(command(i), 1_000_000_000, { kind: 'RULE_VIOLATED', code: 'X'.repeat(64), message: '😀'.repeat(1000) }), at);
    }
    const fullAcceptance = (n: number) => {
      for (let noise = limits.outcomeRecordBytes; ; noise--) {
        const outcome = acceptedOutcome(command(n), 1_000_000_000, [{ ...event(1_000_000_000), payload: { noise: 'n'.repeat(noise) } }]);
        if (!('eventsOmitted' in recordOf(outcome))) return outcome;
      }
    };
    const accepted = limits.acceptedOutcomesKept + limits.acceptedIdsKept;
    for (let i = 0; i < accepted; i++) memory.remember(fullAcceptance(limits.refusalsKept + i), at);
    const outcomes = memory.carry();
    assert.equal(outcomes.accepted.length, limits.acceptedOutcomesKept);
    assert.equal(outcomes.refused.length, limits.refusalsKept);
    assert.ok(jsonBytes(outcomes.acceptedIds) <= limits.acceptedIdsBytes + 1 && jsonBytes(outcomes.acceptedIds) > limits.acceptedIdsBytes - 200);
    const recentEvents = unpublished.slice(-limits.recentEvents).filter((_, i, all) => jsonBytes(all.slice(i)) <= limits.recentEventsBytes);
    // Processes waiting to start at their bound (the decider refuses a decision that would overflow it).
    const start = (n: number) => ({ workflowType: 'p'.repeat(64), workflowId: id(n, 'p'), input: { pad: '' } });
    const pendingStarts = Array.from({ length: limits.pendingStarts }, (_, n) => start(n));
    const pad = Math.floor((limits.pendingStartsBytes - jsonBytes(pendingStarts)) / pendingStarts.length);
    for (const s of pendingStarts) s.input.pad = 'i'.repeat(pad);
    assert.ok(jsonBytes(pendingStarts) <= limits.pendingStartsBytes && jsonBytes(pendingStarts) > limits.pendingStartsBytes - 1000);
    const input: AggregateWorkflowInput = {
      aggregateType: 'bulky',
      aggregateId: id(0, 'a'),
      historyBudget: 1_000_000,
      commandIdRetentionMs: limits.commandIdRetentionMs,
      carried: { snapshot: { state, version: 1_000_000_000 }, mailbox: [], unpublished, outcomes, recentEvents, pendingStarts },
    };
    const carried = jsonBytes(input);
    if (process.env.LF_SHOW_SIZES) console.log(`worst-case hand-over: ${carried} bytes`);
    assert.ok(carried < limits.temporalPayloadBytes * 0.7, `worst case carries ${carried} bytes of Temporal's ${limits.temporalPayloadBytes}`);
  });

  it('refuses a command envelope larger than its bound before deciding it', () => {
    const big = defineAggregate({ ...bulky, name: 'bulky' });
    const [decision] = decideStep(big, step({ commands: [command(1, 'shout', { bytes: 10, pad: 'p'.repeat(limits.commandBytes) })] }));
    assert.equal(decision && 'rejection' in decision && decision.rejection.code, 'COMMAND_TOO_LARGE');
  });
});

describe('a process’s LinkedAggregates', () => {
  it('stays within the search attribute’s bound for a large cart: the first links kept, a marker saying how many were left out', () => {
    const lines = Array.from({ length: 100 }, (_, i) => `inventory:${id(i, 'i')}`);
    const links = linkedAggregates(['cart:c1', 'order:c1.1', 'customer:u1', ...lines, 'cart:c1']);
    assert.ok(jsonBytes(links) <= linkedAggregatesBytes, `${jsonBytes(links)} bytes`);
    assert.deepEqual(links.slice(0, 3), ['cart:c1', 'order:c1.1', 'customer:u1']);
    const kept = links.length - 1;
    assert.equal(links.at(-1), `+${103 - kept} more`);
    assert.deepEqual(links.slice(3, kept), lines.slice(0, kept - 3));
  });

  it('keeps a small list as it is, without duplicates', () => {
    assert.deepEqual(linkedAggregates(['cart:c1', 'order:o1', 'cart:c1']), ['cart:c1', 'order:o1']);
  });
});
