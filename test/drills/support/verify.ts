/**
 * The drill's accounting, per aggregate, from what a user can see: each cart's version
 * (Temporal), its events in the log (RabbitMQ) and its read model (Redis), against what the
 * API acknowledged and what each acknowledged command asked (the load's own model, not the
 * domain's code). One aggregate's shortfall never hides behind another's extra.
 *
 * Per cart:
 * - its version equals the number of its commands acknowledged (a command answered "may have
 *   been applied" counts once, when a retry with its id was acknowledged);
 * - the log holds each version 1..n, each as one event naming one command, that command was
 *   acknowledged, and the event says what the command asked; an acknowledged command missing
 *   from the log is lost, a command at two versions is doubled (applied twice on the write
 *   side). A version delivered again under the same eventId is a republish, which at-least-once
 *   delivery allows: counted, not an error;
 * - its read model holds exactly the items, quantities and prices its acknowledged commands
 *   make, at the aggregate's version.
 */
import assert from 'node:assert/strict';
import { WorkflowNotFoundError } from '@temporalio/common';
import type { Connection } from 'rabbitmq-client';
import type { EventEnvelope } from '../../../core/envelopes';
import { cartProjection, type CartReadModel } from '../../../examples/shop/domain';
import { versionQuery } from '../../../workflows/definitions';
import { eventually } from '../../support/stack';
import type { DrillStack } from './drill-stack';
import { expectedCarts, type CartCommand, type ExpectedCart, type Load } from './load';

export interface DrillReport {
  drill: string;
  acknowledged: number;
  /** Commands answered "may have been applied" at least once; of those, how many a retry confirmed. */
  ambiguous: number;
  ambiguousConfirmed: number;
  /** Carts with an acknowledged command or a version. */
  carts: number;
  /** Carts whose read model equals what their acknowledged commands make. */
  cartsMatching: number;
  /** Events in the matching read models (their versions, summed). */
  eventsInReadModel: number;
  /** Acknowledged commands with no event in the log. */
  lost: number;
  /** Commands decided at more than one version (applied twice on the write side). */
  doubled: number;
  /** Extra deliveries of an event under its own eventId (allowed: at-least-once). */
  republished: number;
  /** One line per discrepancy, each naming its cart. */
  problems: string[];
  /** The carts with a discrepancy. */
  offenders: string[];
  refusedRetryable: number;
  refusedBy: Record<string, number>;
  networkRetries: number;
  failures: string[];
  /** What the drill's fault did while it lasted (its own figures), for the closing line. */
  fault?: string;
}

export interface AccountOptions {
  /** How long to wait for the log to hold every version, and each read model its aggregate's version. */
  logTimeoutMs?: number;
  readModelTimeoutMs?: number;
}

type Stack = Pick<DrillStack, 'temporal' | 'readModels' | 'rabbit' | 'config'>;

export async function account(stack: Stack, drill: string, load: Load, options: AccountOptions = {}): Promise<DrillReport> {
  const { logTimeoutMs = 120_000, readModelTimeoutMs = 180_000 } = options;
  const tally = load.tally;
  const problems: string[] = [];
  const offenders = new Set<string>();
  const problem = (cartId: string, text: string) => {
    offenders.add(cartId);
    problems.push(`${cartId}: ${text}`);
  };

  // Each aggregate's version, once Temporal answers (it may just have come back); a cart no
  // command reached has none.
  const versions = new Map<string, number>();
  for (const cartId of load.carts) {
    const version = await eventually(
      () =>
        stack.temporal.workflow
          .getHandle(`cart:${cartId}`)
          .query(versionQuery)
          .catch((error: unknown) => (error instanceof WorkflowNotFoundError ? 0 : undefined)),
      120_000,
      `${cartId} answers`,
    );
    versions.set(cartId, version);
  }

  const ackedBy = new Map<string, string[]>(load.carts.map((cartId) => [cartId, []]));
  for (const [commandId, { cartId }] of tally.acknowledged) ackedBy.get(cartId)!.push(commandId);

  // The log: every copy of every event of these carts, by cart and version.
  const log = await readLog(stack.rabbit, stack.config.EVENTS_STREAM, versions, logTimeoutMs);
  let lost = 0;
  let doubled = 0;
  let republished = 0;
  for (const cartId of load.carts) {
    const version = versions.get(cartId)!;
    const acked = ackedBy.get(cartId)!;
    if (version !== acked.length) problem(cartId, `version ${version}, but ${acked.length} command(s) acknowledged`);
    const byVersion = log.get(cartId) ?? new Map<number, EventEnvelope[]>();
    const top = Math.max(version, ...byVersion.keys());
    const versionsOf = new Map<string, number[]>();
    for (let v = 1; v <= top; v++) {
      const copies = byVersion.get(v) ?? [];
      if (copies.length === 0) {
        problem(cartId, `version ${v} is not in the log`);
        continue;
      }
      if (v > version) problem(cartId, `the log holds version ${v}, past the aggregate's ${version}`);
      const ids = new Set(copies.map((e) => `${e.eventId} / ${e.commandId}`));
      if (ids.size > 1) problem(cartId, `version ${v} is in the log as ${ids.size} different events: ${[...ids].join('; ')}`);
      republished += copies.length - 1;
      const event = copies[0]!;
      versionsOf.set(event.commandId, [...(versionsOf.get(event.commandId) ?? []), v]);
      const sent = tally.commands.get(event.commandId);
      if (!tally.acknowledged.has(event.commandId)) problem(cartId, `version ${v} is command ${event.commandId}, which was never acknowledged`);
      else if (sent && !says(event, sent.command)) problem(cartId, `version ${v} (${event.type} ${JSON.stringify(event.payload)}) is not what ${event.commandId} asked (${JSON.stringify(sent.command)})`);
    }
    for (const [commandId, at] of versionsOf) {
      if (at.length > 1) {
        doubled += 1;
        problem(cartId, `command ${commandId} was applied ${at.length} times: versions ${at.join(', ')}`);
      }
    }
    for (const commandId of acked) {
      if (!versionsOf.has(commandId)) {
        lost += 1;
        problem(cartId, `acknowledged command ${commandId} is not in the log`);
      }
    }
  }

  // The read models: each at its aggregate's version (after a Redis loss, rebuilt from the log),
  // holding exactly what its acknowledged commands make.
  const expected = expectedCarts(tally);
  let carts = 0;
  let cartsMatching = 0;
  let eventsInReadModel = 0;
  for (const cartId of load.carts) {
    const version = versions.get(cartId)!;
    if (version === 0 && ackedBy.get(cartId)!.length === 0) continue;
    carts += 1;
    let doc: CartReadModel | null;
    try {
      doc = await eventually(
        () => stack.readModels.get(cartProjection, cartId).then((d) => (d && d.version >= version ? d : undefined), () => undefined),
        readModelTimeoutMs,
        `${cartId} read model at version ${version}`,
      );
    } catch {
      doc = await stack.readModels.get(cartProjection, cartId).catch(() => null);
    }
    const differences = compareCart(doc, version, expected.get(cartId) ?? new Map());
    if (differences.length === 0) {
      cartsMatching += 1;
      eventsInReadModel += doc!.version;
    } else {
      for (const difference of differences) problem(cartId, `read model: ${difference}`);
    }
  }

  return {
    drill,
    acknowledged: tally.acknowledged.size,
    ambiguous: tally.ambiguous.size,
    ambiguousConfirmed: [...tally.ambiguous].filter((id) => tally.acknowledged.has(id)).length,
    carts,
    cartsMatching,
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
function says(event: EventEnvelope, command: CartCommand): boolean {
  const payload = event.payload as { itemId?: string; quantity?: number; unitPriceCents?: number };
  if (command.type === 'removeItem') return event.type === 'ItemRemovedFromCart' && payload.itemId === command.itemId;
  return event.type === 'ItemAddedToCart' && payload.itemId === command.itemId && payload.quantity === command.quantity && payload.unitPriceCents === command.priceCents;
}

/** How a read model differs from the cart its acknowledged commands make; [] when it matches. */
export function compareCart(doc: CartReadModel | null, version: number, expected: ExpectedCart): string[] {
  if (!doc) return [`absent, expected at version ${version}`];
  const differences: string[] = [];
  if (doc.version !== version) differences.push(`at version ${doc.version}, the aggregate at ${version}`);
  if (doc.status !== 'open') differences.push(`status ${doc.status}, expected open`);
  const held = new Map(doc.items.map((item) => [item.itemId, item]));
  for (const [itemId, want] of expected) {
    const item = held.get(itemId);
    if (!item) differences.push(`item ${itemId} missing (expected quantity ${want.quantity})`);
    else if (item.quantity !== want.quantity || Math.round(item.price * 100) !== want.priceCents) {
      differences.push(`item ${itemId} quantity ${item.quantity} at ${item.price}, expected ${want.quantity} at ${want.priceCents / 100}`);
    }
  }
  for (const item of doc.items) if (!expected.has(item.itemId)) differences.push(`item ${item.itemId} (quantity ${item.quantity}) should not be there`);
  if (doc.items.length !== held.size) differences.push(`${doc.items.length - held.size} duplicate line(s)`);
  const totalItems = [...expected.values()].reduce((sum, l) => sum + l.quantity, 0);
  const totalCents = [...expected.values()].reduce((sum, l) => sum + l.quantity * l.priceCents, 0);
  if (doc.totalItems !== totalItems) differences.push(`totalItems ${doc.totalItems}, expected ${totalItems}`);
  if (Math.round(doc.totalPrice * 100) !== totalCents) differences.push(`totalPrice ${doc.totalPrice}, expected ${totalCents / 100}`);
  return differences;
}

/**
 * Reads the log from its first offset until it holds versions 1..n of every cart at version n,
 * or the time is up (what is missing then is reported, not thrown). Every copy is kept.
 */
async function readLog(rabbit: Connection, stream: string, versions: Map<string, number>, timeoutMs: number) {
  const byCart = new Map<string, Map<number, EventEnvelope[]>>();
  let incomplete = [...versions.values()].filter((v) => v > 0).length;
  const seen = new Map<string, number>(); // distinct versions <= n seen per cart
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
          if (target === undefined || event.aggregateType !== 'cart') return;
          const cart = byCart.get(event.aggregateId) ?? new Map<number, EventEnvelope[]>();
          byCart.set(event.aggregateId, cart);
          const copies = cart.get(event.version) ?? [];
          cart.set(event.version, [...copies, event]);
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
  return byCart;
}

/** The accounting every drill asserts: nothing failed, nothing lost or doubled, every read model exact. */
export function assertAccounted(report: DrillReport): void {
  const summary = `${describeReport(report)}\n${report.problems.slice(0, 20).join('\n')}`;
  assert.deepEqual(report.failures, [], 'every command was answered done or retryable');
  assert.ok(report.acknowledged > 0, 'commands were acknowledged');
  assert.equal(report.lost, 0, summary);
  assert.equal(report.doubled, 0, summary);
  assert.deepEqual(report.offenders, [], summary);
  assert.equal(report.cartsMatching, report.carts, summary);
  assert.equal(report.eventsInReadModel, report.acknowledged, 'the read models hold one event per acknowledged command');
  assert.equal(report.ambiguousConfirmed, report.ambiguous, 'every command answered "may have been applied" was confirmed by a retry');
}

export function describeReport(r: DrillReport): string {
  const by = Object.entries(r.refusedBy).map(([code, n]) => `${code} ${n}`).join(', ');
  const offenders = r.offenders.length ? `; offending carts (${r.offenders.length}): ${r.offenders.slice(0, 5).join(', ')}${r.offenders.length > 5 ? ', …' : ''}` : '';
  return (
    `drill ${r.drill}: acknowledged ${r.acknowledged} (ambiguous ${r.ambiguous}, confirmed by retry ${r.ambiguousConfirmed}), ` +
    `in read model ${r.cartsMatching}/${r.carts} carts (${r.eventsInReadModel} events), lost ${r.lost}, doubled ${r.doubled}, republished ${r.republished}, ` +
    `refused-retryable ${r.refusedRetryable}${by ? ` (${by})` : ''}, network retries ${r.networkRetries}${offenders}${r.fault ? `; during the fault: ${r.fault}` : ''}`
  );
}
