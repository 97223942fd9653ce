import type { Connection } from 'rabbitmq-client';
import type { AnyProjection } from '../core/projection';
import type { Logger } from '../infra/logger';
import type { ProjectorMetrics } from '../infra/metrics';
import type { EventTopology } from '../infra/rabbit';
import type { Redis } from '../infra/redis';
import { projectionKeys, type ProjectionKeys } from './keys';

export interface ProjectorDeps {
  /** A connection of the projector's own (batches are written with Lua scripts on it). */
  redis: Redis;
  rabbit: Connection;
  topology: EventTopology;
  prefix: string;
  log: Logger;
  /** Where batches are counted and timed (none by default). */
  metrics?: ProjectorMetrics;
}

export interface ProjectorOptions {
  /**
   * Most events applied in one Redis transaction (2,000: a live projection rarely has that many
   * waiting, so latency is unchanged; a rebuild commits in fewer, larger steps: +40% replay rate).
   */
  batchSize?: number;
  /** Stream credit: deliveries in flight before acks (two batches, so the next one is arriving while one commits). */
  prefetch?: number;
  /** Attempts of a throwing handler before its event is parked. */
  handlerAttempts?: number;
  /**
   * Most parked events a generation holds (10,000). A batch that would park more is not written:
   * the projection stops consuming, says so in its status (`halted`), and goes on once a re-drive
   * made room. Nothing is dropped.
   */
  maxParked?: number;
  /** Documents per chunk of a fan-out, and parked events per step of a re-drive (500): the most one Redis call reads or writes for them. */
  chunk?: number;
  /** How long an owner's lease lasts without renewal; a standby takes over after it. */
  leaseMs?: number;
  /** How often the owner renews its lease, checks requests and publishes its status. */
  tickMs?: number;
  /** Names this instance in leases and status. */
  instanceId?: string;
}

/** What the parts running one projection share: its clients, keys and settings. */
export interface ProjectionContext extends Omit<ProjectorDeps, 'log'> {
  projection: AnyProjection;
  keys: ProjectionKeys;
  /** This instance: the lease's value and the status's owner. */
  owner: string;
  /** The projector's logger with the projection's name on every line. */
  log: Logger;
  batchSize: number;
  prefetch: number;
  attempts: number;
  maxParked: number;
  chunk: number;
  leaseMs: number;
  tickMs: number;
  /** The stream's newest offset, as this process's tail follower last saw it. */
  streamTail: () => number | null;
}

export function projectionContext(deps: ProjectorDeps, projection: AnyProjection, options: ProjectorOptions & { instanceId: string; streamTail: () => number | null }): ProjectionContext {
  return {
    ...deps,
    projection,
    keys: projectionKeys(deps.prefix, projection.name),
    owner: options.instanceId,
    log: deps.log.child({ projection: projection.name }),
    batchSize: options.batchSize ?? 2000,
    prefetch: options.prefetch ?? 4000,
    attempts: options.handlerAttempts ?? 3,
    maxParked: options.maxParked ?? 10_000,
    chunk: options.chunk ?? 500,
    leaseMs: options.leaseMs ?? 5000,
    tickMs: options.tickMs ?? 1000,
    streamTail: options.streamTail,
  };
}
