/**
 * The worker's and the projector's Prometheus series. Node's default metrics carry no prefix
 * (`process_cpu_seconds_total`, `nodejs_eventloop_lag_seconds`): the scrape's job label tells
 * the processes apart, so dashboards and alerts written for any Node service apply.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { EventEnvelope } from '../core/envelopes';
import type { StepDecision } from '../core/decider';

/** A registry with Node's default metrics. */
export function processRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

const fastBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Decisions and publishing, as the activities see them. The publish backlog is per aggregate,
 * as its last decide step reported it plus what that step decided, less what was published
 * since: exact with one worker; with several, an aggregate whose publish runs elsewhere keeps
 * its last value here until its next decide step on this worker.
 */
export function createWorkerMetrics(registry: Registry) {
  const decided = new Counter({
    name: 'ledgerflow_worker_commands_decided_total',
    help: 'Commands decided, by aggregate type and outcome (accepted, rejected)',
    labelNames: ['aggregate', 'outcome'] as const,
    registers: [registry],
  });
  const decideDuration = new Histogram({
    name: 'ledgerflow_worker_decide_duration_seconds',
    help: 'Duration of a decide step (lookups and decide for the commands at the head of a mailbox)',
    labelNames: ['aggregate'] as const,
    buckets: fastBuckets,
    registers: [registry],
  });
  const published = new Counter({
    name: 'ledgerflow_worker_events_published_total',
    help: 'Events published to RabbitMQ and confirmed, by aggregate type',
    labelNames: ['aggregate'] as const,
    registers: [registry],
  });
  const publishFailures = new Counter({
    name: 'ledgerflow_worker_publish_failures_total',
    help: 'Publish attempts that failed (Temporal retries them)',
    registers: [registry],
  });
  const publishDuration = new Histogram({
    name: 'ledgerflow_worker_publish_duration_seconds',
    help: 'Duration of a publish activity (a batch of one aggregate, until the broker confirmed it)',
    buckets: fastBuckets,
    registers: [registry],
  });
  const headChecks = new Counter({
    name: 'ledgerflow_worker_head_checks_total',
    help: 'Runs at version 0 that asked whether their aggregate has events: new, refused (its history is gone), unknown (Redis away: decided as new)',
    labelNames: ['aggregate', 'result'] as const,
    registers: [registry],
  });
  const backlog = new Map<string, { type: string; events: number }>();
  new Gauge({
    name: 'ledgerflow_worker_publish_backlog_events',
    help: 'Decided events not yet published, by aggregate type (see the README on several workers)',
    labelNames: ['aggregate'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const byType = new Map<string, number>();
      for (const { type, events } of backlog.values()) byType.set(type, (byType.get(type) ?? 0) + events);
      for (const [type, events] of byType) this.set({ aggregate: type }, events);
    },
  });
  new Gauge({
    name: 'ledgerflow_worker_publish_backlog_aggregates',
    help: 'Aggregates with decided events not yet published',
    registers: [registry],
    collect() {
      this.set(backlog.size);
    },
  });
  const setBacklog = (type: string, id: string, events: number) => {
    const key = `${type}:${id}`;
    if (events > 0) backlog.set(key, { type, events });
    else backlog.delete(key);
  };

  return {
    registry,
    /** After a decide step: its outcomes, and the aggregate's backlog with the events it decided. */
    decideStep(input: { aggregateType: string; aggregateId: string; backlog: { events: number } }, decisions: readonly StepDecision[], seconds: number) {
      let events = 0;
      for (const decision of decisions) {
        if ('events' in decision) {
          decided.inc({ aggregate: input.aggregateType, outcome: 'accepted' });
          events += decision.events.length;
        } else if ('rejection' in decision) decided.inc({ aggregate: input.aggregateType, outcome: 'rejected' });
      }
      decideDuration.observe({ aggregate: input.aggregateType }, seconds);
      setBacklog(input.aggregateType, input.aggregateId, input.backlog.events + events);
    },
    /** A run at version 0 checked its aggregate's head (see activities/heads.ts). */
    headCheck(aggregateType: string, result: 'new' | 'refused' | 'unknown') {
      headChecks.inc({ aggregate: aggregateType, result });
    },
    /** After a publish: the batch (one aggregate's, in version order) and whether the broker confirmed it. */
    publish(events: readonly EventEnvelope[], seconds: number, ok: boolean) {
      const first = events[0];
      if (!first) return;
      const key = `${first.aggregateType}:${first.aggregateId}`;
      const known = backlog.get(key)?.events ?? 0;
      if (ok) {
        published.inc({ aggregate: first.aggregateType }, events.length);
        publishDuration.observe(seconds);
        setBacklog(first.aggregateType, first.aggregateId, known - events.length);
      } else {
        publishFailures.inc();
        setBacklog(first.aggregateType, first.aggregateId, Math.max(known, events.length));
      }
    },
  };
}

export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;

export interface ProjectionBatch {
  projection: string;
  applied: number;
  duplicatesSkipped: number;
  parked: number;
  seconds: number;
}

export interface ProjectionPosition {
  name: string;
  /** Null unless this instance owns the projection. */
  lagEvents: number | null;
  lagSeconds: number;
  owned: boolean;
  rebuilding: boolean;
}

/** Batches applied by this projector, and the position of the projections it owns. */
export function createProjectorMetrics(registry: Registry) {
  const applied = new Counter({
    name: 'ledgerflow_projector_events_applied_total',
    help: 'Events applied to read models, by projection (live and rebuilding generations)',
    labelNames: ['projection'] as const,
    registers: [registry],
  });
  const skipped = new Counter({
    name: 'ledgerflow_projector_duplicates_skipped_total',
    help: 'Events skipped because their version was already applied, by projection',
    labelNames: ['projection'] as const,
    registers: [registry],
  });
  const parked = new Counter({
    name: 'ledgerflow_projector_events_parked_total',
    help: 'Events parked (dead-lettered) after their handler kept failing, by projection',
    labelNames: ['projection'] as const,
    registers: [registry],
  });
  const batchDuration = new Histogram({
    name: 'ledgerflow_projector_batch_duration_seconds',
    help: 'Duration of applying and committing one batch, by projection',
    labelNames: ['projection'] as const,
    buckets: fastBuckets,
    registers: [registry],
  });
  let positions: () => readonly ProjectionPosition[] = () => [];
  const positionGauge = (name: string, help: string, read: (p: ProjectionPosition) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames: ['projection'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const position of positions()) {
          const value = read(position);
          if (value !== null) this.set({ projection: position.name }, value);
        }
      },
    });
  positionGauge('ledgerflow_projector_lag_events', 'Events in the stream the live generation has not applied (projections this instance owns)', (p) => (p.owned ? p.lagEvents : null));
  positionGauge('ledgerflow_projector_lag_seconds', 'Age of the oldest delivered, unapplied event (projections this instance owns)', (p) => (p.owned ? p.lagSeconds : null));
  positionGauge('ledgerflow_projector_owned', '1 when this instance owns the projection', (p) => (p.owned ? 1 : 0));
  positionGauge('ledgerflow_projector_rebuilding', '1 while this instance rebuilds the projection', (p) => (p.rebuilding ? 1 : 0));

  return {
    registry,
    batch(batch: ProjectionBatch) {
      const labels = { projection: batch.projection };
      if (batch.applied) applied.inc(labels, batch.applied);
      if (batch.duplicatesSkipped) skipped.inc(labels, batch.duplicatesSkipped);
      if (batch.parked) parked.inc(labels, batch.parked);
      batchDuration.observe(labels, batch.seconds);
    },
    /** Where the gauges read the projections' positions at each scrape. */
    follow(read: () => readonly ProjectionPosition[]) {
      positions = read;
    },
  };
}

export type ProjectorMetrics = ReturnType<typeof createProjectorMetrics>;

/**
 * Series of the Temporal SDK (Core's exporter, in the worker's /metrics) that the dashboard
 * reads; the worker's metrics test checks the worker serves each.
 */
export const temporalSdkSeries = [
  'temporal_workflow_task_schedule_to_start_latency_seconds',
  'temporal_activity_schedule_to_start_latency_seconds',
] as const;
