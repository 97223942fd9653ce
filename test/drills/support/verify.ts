/**
 * The drill's accounting, from what a user can see: the aggregates' versions (Temporal), the
 * event log (RabbitMQ) and the read models (Redis), against what the API acknowledged.
 */
import { WorkflowNotFoundError } from '@temporalio/common';
import type { EventEnvelope } from '../../../core/envelopes';
import { cartProjection } from '../../../domain';
import { versionQuery } from '../../../workflows/definitions';
import { eventually } from '../../support/stack';
import { readStream } from '../../support/stream';
import type { DrillStack } from './drill-stack';
import type { Load } from './load';

export interface DrillReport {
  drill: string;
  acknowledged: number;
  eventsInReadModel: number;
  lost: number;
  doubled: number;
  refusedRetryable: number;
  refusedBy: Record<string, number>;
  failures: string[];
}

export async function account(stack: Pick<DrillStack, 'temporal' | 'readModels' | 'rabbit' | 'config'>, drill: string, load: Load): Promise<DrillReport> {
  // Each aggregate's version, once Temporal answers (it may just have come back); a cart no
  // sender reached has none (and if a command for it was acknowledged, it counts as lost below).
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
  const total = [...versions.values()].reduce((sum, v) => sum + v, 0);

  // Every read model catches up with its aggregate (after a Redis loss, by rebuilding from the log).
  let eventsInReadModel = 0;
  for (const [cartId, version] of versions) {
    if (version === 0) continue;
    const doc = await eventually(
      () => stack.readModels.get(cartProjection, cartId).then((d) => (d && d.version >= version ? d : undefined), () => undefined),
      180_000,
      `${cartId} read model at version ${version}`,
    );
    eventsInReadModel += doc.version;
  }

  // The log: every event of this drill's aggregates, by the command that decided it.
  const ours = new Set(load.carts);
  const messages = await readStream(
    stack.rabbit,
    stack.config.EVENTS_STREAM,
    (ms) => new Set(ms.map((m) => m.body as EventEnvelope).filter((e) => ours.has(e.aggregateId)).map((e) => e.eventId)).size >= total,
    120_000,
  );
  const versionsByCommand = new Map<string, Set<number>>();
  for (const event of messages.map((m) => m.body as EventEnvelope).filter((e) => ours.has(e.aggregateId))) {
    versionsByCommand.set(event.commandId, (versionsByCommand.get(event.commandId) ?? new Set()).add(event.version));
  }
  const lost = [...load.tally.acknowledged.keys()].filter((commandId) => !versionsByCommand.has(commandId)).length;
  const doubled = [...versionsByCommand.values()].filter((v) => v.size > 1).length;

  return {
    drill,
    acknowledged: load.tally.acknowledged.size,
    eventsInReadModel,
    lost,
    doubled,
    refusedRetryable: load.tally.refusedRetryable,
    refusedBy: Object.fromEntries(load.tally.refusedBy),
    failures: load.tally.failures,
  };
}

export function describeReport(r: DrillReport): string {
  const by = Object.entries(r.refusedBy).map(([code, n]) => `${code} ${n}`).join(', ');
  return `drill ${r.drill}: acknowledged ${r.acknowledged}, events in read model ${r.eventsInReadModel}, lost ${r.lost}, doubled ${r.doubled}, refused-retryable ${r.refusedRetryable}${by ? ` (${by})` : ''}`;
}
