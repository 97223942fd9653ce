import type { Client } from '@temporalio/client';
import type { CommandEnvelope, CommandOutcome } from '../core/envelopes';
import { workflowIdOf } from '../core/ids';
import type { Logger } from '../infra/logger';
import { createDelivery } from './delivery';
import { createCommandQueue, type Delivery, type Submitted } from './queue';

export type { Delivery, Submitted } from './queue';

export interface CommandBusOptions {
  taskQueue: string;
  /** How long a submission may take; after it the caller hears COMMAND_TIMEOUT (retry with the same id). */
  timeoutMs?: number;
  /** Commands of one aggregate waiting in this process for their turn. */
  maxQueuedPerAggregate?: number;
  /** Commands waiting in this process for all aggregates together. */
  maxQueued?: number;
  /** How long aggregates this bus starts answer decided commandIds (config `COMMAND_ID_RETENTION_HOURS`). */
  commandIdRetentionMs?: number;
  /** Each command's end at debug level (with its correlationId), unexpected failures at warn. */
  log?: Logger;
}

export const busDefaults = { timeoutMs: 10_000, maxQueuedPerAggregate: 1_000, maxQueued: 20_000 } as const;

/**
 * Delivers command envelopes to aggregate workflows, for the API, processes and the CLI.
 * Commands for one aggregate that arrive while an update is in flight are coalesced into the
 * next update (commands/queue.ts), so a hot aggregate sees one update per round trip (far below
 * Temporal's 10 in-flight updates) and decides the whole batch in one workflow task
 * (commands/delivery.ts). Every buffer is bounded and every wait has a deadline: a refusal is a
 * rejected outcome of kind UNAVAILABLE, which names the command and is safe to retry.
 */
export function createCommandBus(client: Client, options: CommandBusOptions) {
  const workflows = createDelivery(client, options.taskQueue, options.commandIdRetentionMs);
  const queue = createCommandQueue({
    timeoutMs: options.timeoutMs ?? busDefaults.timeoutMs,
    maxQueuedPerAggregate: options.maxQueuedPerAggregate ?? busDefaults.maxQueuedPerAggregate,
    maxQueued: options.maxQueued ?? busDefaults.maxQueued,
    send: workflows.deliver,
    log: options.log,
  });

  /**
   * Resolves with the command's outcome once decided (`processed`) or once in the mailbox
   * (`accepted`: status `queued`). Rejects only on an unexpected error.
   */
  function submit(envelope: CommandEnvelope, delivery?: 'processed'): Promise<CommandOutcome>;
  function submit(envelope: CommandEnvelope, delivery: Delivery): Promise<Submitted>;
  function submit(envelope: CommandEnvelope, delivery: Delivery = 'processed'): Promise<Submitted> {
    const workflowId = workflowIdOf(envelope.aggregateType, envelope.aggregateId);
    const closed = workflows.closedAnswer(workflowId, envelope);
    if (closed) return Promise.resolve(closed);
    return queue.enqueue(workflowId, envelope, delivery);
  }

  return {
    submit,

    /** Commands this process holds, waiting or in flight. */
    get queued() {
      return queue.queued;
    },
  };
}

export type CommandBus = ReturnType<typeof createCommandBus>;
