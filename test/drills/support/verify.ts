/**
 * The drill's accounting, per aggregate, from what a user can see: each account's version
 * (Temporal), its events in the log (RabbitMQ) and its statement (Redis), against what the
 * API acknowledged and what each acknowledged command asked (the load's own model, not the
 * domain's code). One aggregate's shortfall never hides behind another's extra.
 *
 * Per account:
 * - its version equals the number of its commands acknowledged (a command answered "may have
 *   been applied" counts once, when a retry with its id was acknowledged);
 * - the log holds each version 1..n, each as one event naming one command, that command was
 *   acknowledged, and the event says what the command asked; an acknowledged command missing
 *   from the log is lost, a command at two versions is doubled (applied twice on the write
 *   side). A version delivered again under the same eventId is a republish, which at-least-once
 *   delivery allows: counted, not an error;
 * - its statement (the read model listing every entry) holds each acknowledged command's entry
 *   exactly once, with the amount it asked, nothing else, and their sum as the balance, at the
 *   aggregate's version.
 */
import assert from 'node:assert/strict';
import { WorkflowNotFoundError } from '@temporalio/common';
import type { Connection } from 'rabbitmq-client';
import type { EventEnvelope } from '../../../core/envelopes';
import { statementProjection, type StatementReadModel } from '../../support/domains/ledger/account';
import { versionQuery } from '../../../workflows/definitions';
import { eventually } from '../../support/stack';
import type { DrillStack } from './drill-stack';
import { expectedAccounts, type AccountCommand, type ExpectedAccount, type Load } from './load';

export interface DrillReport {
  drill: string;
  acknowledged: number;
  /** Commands answered "may have been applied" at least once; of those, how many a retry confirmed. */
  ambiguous: number;
  ambiguousConfirmed: number;
  /** Accounts with an acknowledged command or a version. */
  accounts: number;
  /** Accounts whose statement equals what their acknowledged commands make. */
  accountsMatching: number;
  /** Events in the matching read models (their versions, summed). */
  eventsInReadModel: number;
  /** Acknowledged commands with no event in the log. */
  lost: number;
  /** Commands decided at more than one version (applied twice on the write side). */
  doubled: number;
  /** Extra deliveries of an event under its own eventId (allowed: at-least-once). */
  republished: number;
  /** One line per discrepancy, each naming its account. */
  problems: string[];
  /** The accounts with a discrepancy. */
  offenders: string[];
  refusedRetryable: number;
  refusedBy: Record<string, number>;
  networkRetries: number;
  failures: string[];
  /** What the drill's fault did while it lasted (its own figures), for the closing line. */
  fault?: string;
}

export interface AuditOptions {
  /** How long to wait for the log to hold every version, and each read model its aggregate's version. */
  logTimeoutMs?: number;
  readModelTimeoutMs?: number;
}

type Stack = Pick<DrillStack, 'temporal' | 'readModels' | 'rabbit' | 'config'>;

export async function audit(stack: Stack, drill: string, load: Load, options: AuditOptions = {}): Promise<DrillReport> {
  const { logTimeoutMs = 120_000, readModelTimeoutMs = 180_000 } = options;
  const tally = load.tally;
  const problems: string[] = [];
  const offenders = new Set<string>();
  const problem = (accountId: string, text: string) => {
    offenders.add(accountId);
    problems.push(`${accountId}: ${text}`);
  };

  // Each aggregate's version, once Temporal answers (it may just have come back); an account no
  // command reached has none.
  const versions = new Map<string, number>();
  for (const accountId of load.accounts) {
    const version = await eventually(
      () =>
        stack.temporal.workflow
          .getHandle(`account:${accountId}`)
          .query(versionQuery)
          .catch((error: unknown) => (error instanceof WorkflowNotFoundError ? 0 : undefined)),
      120_000,
      `${accountId} answers`,
    );
    versions.set(accountId, version);
  }

  const ackedBy = new Map<string, string[]>(load.accounts.map((accountId) => [accountId, []]));
  for (const [commandId, { accountId }] of tally.acknowledged) ackedBy.get(accountId)!.push(commandId);

  // The log: every copy of every event of these accounts, by account and version.
  const log = await readLog(stack.rabbit, stack.config.EVENTS_STREAM, versions, logTimeoutMs);
  let lost = 0;
  let doubled = 0;
  let republished = 0;
  for (const accountId of load.accounts) {
    const version = versions.get(accountId)!;
    const acked = ackedBy.get(accountId)!;
    if (version !== acked.length) problem(accountId, `version ${version}, but ${acked.length} command(s) acknowledged`);
    const byVersion = log.get(accountId) ?? new Map<number, EventEnvelope[]>();
    const top = Math.max(version, ...byVersion.keys());
    const versionsOf = new Map<string, number[]>();
    for (let v = 1; v <= top; v++) {
      const copies = byVersion.get(v) ?? [];
      if (copies.length === 0) {
        problem(accountId, `version ${v} is not in the log`);
        continue;
      }
      if (v > version) problem(accountId, `the log holds version ${v}, past the aggregate's ${version}`);
      const ids = new Set(copies.map((e) => `${e.eventId} / ${e.commandId}`));
      if (ids.size > 1) problem(accountId, `version ${v} is in the log as ${ids.size} different events: ${[...ids].join('; ')}`);
      republished += copies.length - 1;
      const event = copies[0]!;
      versionsOf.set(event.commandId, [...(versionsOf.get(event.commandId) ?? []), v]);
      const sent = tally.commands.get(event.commandId);
      if (!tally.acknowledged.has(event.commandId)) problem(accountId, `version ${v} is command ${event.commandId}, which was never acknowledged`);
      else if (sent && !says(event, sent.command)) problem(accountId, `version ${v} (${event.type} ${JSON.stringify(event.payload)}) is not what ${event.commandId} asked (${JSON.stringify(sent.command)})`);
    }
    for (const [commandId, at] of versionsOf) {
      if (at.length > 1) {
        doubled += 1;
        problem(accountId, `command ${commandId} was applied ${at.length} times: versions ${at.join(', ')}`);
      }
    }
    for (const commandId of acked) {
      if (!versionsOf.has(commandId)) {
        lost += 1;
        problem(accountId, `acknowledged command ${commandId} is not in the log`);
      }
    }
  }

  // The statements: each at its aggregate's version (after a Redis loss, rebuilt from the log),
  // holding exactly the entries its acknowledged commands asked for.
  const expected = expectedAccounts(tally);
  let accounts = 0;
  let accountsMatching = 0;
  let eventsInReadModel = 0;
  for (const accountId of load.accounts) {
    const version = versions.get(accountId)!;
    if (version === 0 && ackedBy.get(accountId)!.length === 0) continue;
    accounts += 1;
    let doc: StatementReadModel | null;
    try {
      doc = await eventually(
        () => stack.readModels.get(statementProjection, accountId).then((d) => (d && d.version >= version ? d : undefined), () => undefined),
        readModelTimeoutMs,
        `${accountId} statement at version ${version}`,
      );
    } catch {
      doc = await stack.readModels.get(statementProjection, accountId).catch(() => null);
    }
    const differences = compareStatement(doc, version, expected.get(accountId) ?? new Map());
    if (differences.length === 0) {
      accountsMatching += 1;
      eventsInReadModel += doc!.version;
    } else {
      for (const difference of differences) problem(accountId, `read model: ${difference}`);
    }
  }

  return {
    drill,
    acknowledged: tally.acknowledged.size,
    ambiguous: tally.ambiguous.size,
    ambiguousConfirmed: [...tally.ambiguous].filter((id) => tally.acknowledged.has(id)).length,
    accounts,
    accountsMatching,
    eventsInReadModel,
    lost,
    doubled,
    republished,
    problems,
    offenders: [...offenders],
    refusedRetryable: tally.refusedRetryable,
    refusedBy: Object.fromEntries(tally.refusedBy),
    networkRetries: tally.networkRetries,
    failures: tally.failures,
  };
}

/** Whether a logged event is what its command asked for. */
function says(event: EventEnvelope, command: AccountCommand): boolean {
  const payload = event.payload as { entryId?: string; amountCents?: number };
  const type = command.type === 'deposit' ? 'Deposited' : 'Withdrawn';
  return event.type === type && payload.entryId === command.entryId && payload.amountCents === command.amountCents;
}

const money = (cents: number) => (cents / 100).toFixed(2);

/** How a statement differs from the entries its acknowledged commands make; [] when it matches. */
export function compareStatement(doc: StatementReadModel | null, version: number, expected: ExpectedAccount): string[] {
  if (!doc) return [`absent, expected at version ${version}`];
  const differences: string[] = [];
  if (doc.version !== version) differences.push(`at version ${doc.version}, the aggregate at ${version}`);
  if (doc.status !== 'open') differences.push(`status ${doc.status}, expected open`);
  const listed = new Map<string, number[]>();
  for (const entry of doc.entries) listed.set(entry.entryId, [...(listed.get(entry.entryId) ?? []), Math.round(entry.amount * 100)]);
  for (const [entryId, cents] of expected) {
    const amounts = listed.get(entryId) ?? [];
    if (amounts.length === 0) differences.push(`entry ${entryId} missing (expected ${money(cents)})`);
    else if (amounts.length > 1) differences.push(`entry ${entryId} listed ${amounts.length} times (${amounts.map(money).join(', ')}), expected once (${money(cents)})`);
    else if (amounts[0] !== cents) differences.push(`entry ${entryId} of ${money(amounts[0]!)}, expected ${money(cents)}`);
  }
  for (const [entryId, amounts] of listed) if (!expected.has(entryId)) differences.push(`entry ${entryId} (${amounts.map(money).join(', ')}) should not be there`);
  const balanceCents = [...expected.values()].reduce((sum, cents) => sum + cents, 0);
  if (Math.round(doc.balance * 100) !== balanceCents) differences.push(`balance ${money(Math.round(doc.balance * 100))}, expected ${money(balanceCents)}`);
  return differences;
}

/**
 * Reads the log from its first offset until it holds versions 1..n of every account at version n,
 * or the time is up (what is missing then is reported, not thrown). Every copy is kept.
 */
async function readLog(rabbit: Connection, stream: string, versions: Map<string, number>, timeoutMs: number) {
  const byAccount = new Map<string, Map<number, EventEnvelope[]>>();
  let incomplete = [...versions.values()].filter((v) => v > 0).length;
  const seen = new Map<string, number>(); // distinct versions <= n seen per account
  const channel = await rabbit.acquire();
  try {
    await channel.basicQos({ prefetchCount: 1000 });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, timeoutMs);
      if (incomplete === 0) {
        clearTimeout(timer);
        return resolve();
      }
      channel
        .basicConsume({ queue: stream, arguments: { 'x-stream-offset': 'first' } }, (message) => {
          channel.basicAck({ deliveryTag: message.deliveryTag });
          const event = message.body as EventEnvelope;
          const target = versions.get(event.aggregateId);
          if (target === undefined || event.aggregateType !== 'account') return;
          const account = byAccount.get(event.aggregateId) ?? new Map<number, EventEnvelope[]>();
          byAccount.set(event.aggregateId, account);
          const copies = account.get(event.version) ?? [];
          account.set(event.version, [...copies, event]);
          if (copies.length === 0 && event.version <= target) {
            const count = (seen.get(event.aggregateId) ?? 0) + 1;
            seen.set(event.aggregateId, count);
            if (count === target && --incomplete === 0) {
              clearTimeout(timer);
              resolve();
            }
          }
        })
        .catch(reject);
    });
  } finally {
    await channel.close();
  }
  return byAccount;
}

/** The accounting every drill asserts: nothing failed, nothing lost or doubled, every statement exact. */
export function assertAccounted(report: DrillReport): void {
  const summary = `${describeReport(report)}\n${report.problems.slice(0, 20).join('\n')}`;
  assert.deepEqual(report.failures, [], 'every command was answered done or retryable');
  assert.ok(report.acknowledged > 0, 'commands were acknowledged');
  assert.equal(report.lost, 0, summary);
  assert.equal(report.doubled, 0, summary);
  assert.deepEqual(report.offenders, [], summary);
  assert.equal(report.accountsMatching, report.accounts, summary);
  assert.equal(report.eventsInReadModel, report.acknowledged, 'the statements hold one entry per acknowledged command');
  assert.equal(report.ambiguousConfirmed, report.ambiguous, 'every command answered "may have been applied" was confirmed by a retry');
}

export function describeReport(r: DrillReport): string {
  const by = Object.entries(r.refusedBy).map(([code, n]) => `${code} ${n}`).join(', ');
  const offenders = r.offenders.length ? `; offending accounts (${r.offenders.length}): ${r.offenders.slice(0, 5).join(', ')}${r.offenders.length > 5 ? ', …' : ''}` : '';
  return (
    `drill ${r.drill}: acknowledged ${r.acknowledged} (ambiguous ${r.ambiguous}, confirmed by retry ${r.ambiguousConfirmed}), ` +
    `in read model ${r.accountsMatching}/${r.accounts} accounts (${r.eventsInReadModel} events), lost ${r.lost}, doubled ${r.doubled}, republished ${r.republished}, ` +
    `refused-retryable ${r.refusedRetryable}${by ? ` (${by})` : ''}, network retries ${r.networkRetries}${offenders}${r.fault ? `; during the fault: ${r.fault}` : ''}`
  );
}
