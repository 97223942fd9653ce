/**
 * Commands waiting in this process for their aggregate's turn. One batch per aggregate is in
 * flight at a time; what arrives meanwhile is coalesced into the next batch. Both the queue of one
 * aggregate and all of them together are bounded, and every command has a deadline: a refusal is
 * a rejected outcome of kind UNAVAILABLE (COMMAND_QUEUE_FULL, COMMAND_TIMEOUT), safe to retry.
 */
import type { CommandEnvelope, CommandOutcome } from '../core/envelopes';
import { engineCodes } from '../core/errors';
import { aggregateLimits, jsonBytes } from '../core/limits';
import { rejectedOutcome } from '../core/outcomes';
import type { Logger } from '../infra/logger';

/** `processed`: answer once decided; `accepted`: once durably in the aggregate's mailbox. */
export type Delivery = 'processed' | 'accepted';

export type Submitted = CommandOutcome | { status: 'queued'; commandId: string; aggregateId: string };

/** A command in this process and its caller, who hears `settle`'s outcome or `fail`'s error (the first of them). */
export interface Waiting {
  envelope: CommandEnvelope;
  delivery: Delivery;
  deadline: number;
  bytes: number;
  settled: boolean;
  settle(outcome: Submitted): void;
  fail(error: unknown): void;
}

export interface CommandQueueOptions {
  /** How long a command may wait and be in flight. */
  timeoutMs: number;
  maxQueuedPerAggregate: number;
  maxQueued: number;
  /** Sends one batch of an aggregate's commands and settles every command in it, whatever happens. */
  send(workflowId: string, batch: Waiting[]): Promise<void>;
  /** Each command's end at debug level (with its correlationId), unexpected failures at warn. */
  log?: Logger;
  now?: () => number;
}

export function createCommandQueue(options: CommandQueueOptions) {
  const { timeoutMs, maxQueuedPerAggregate, maxQueued, send, log, now = Date.now } = options;
  const queues = new Map<string, Waiting[]>();
  let queued = 0;

  async function drain(workflowId: string, queue: Waiting[]) {
    while (queue.length > 0) {
      const at = now();
      const expired = queue.filter((w) => w.deadline <= at);
      if (expired.length > 0) {
        queue.splice(0, queue.length, ...queue.filter((w) => w.deadline > at));
        for (const w of expired) {
          w.settle(refusal(w.envelope, engineCodes.COMMAND_TIMEOUT, `waited ${timeoutMs} ms behind other commands for this aggregate and was not sent; retry`));
        }
        continue;
      }
      const batch = takeBatch(queue);
      await send(workflowId, batch).catch((error: unknown) => {
        for (const w of batch) w.fail(error);
        throw error;
      });
    }
    queues.delete(workflowId);
  }

  /** Resolves with what `send` settles the command with, or a refusal; rejects only on an unexpected error. */
  function enqueue(workflowId: string, envelope: CommandEnvelope, delivery: Delivery): Promise<Submitted> {
    const queue = queues.get(workflowId);
    if ((queue?.length ?? 0) >= maxQueuedPerAggregate || queued >= maxQueued) {
      return Promise.resolve(
        refusal(envelope, engineCodes.COMMAND_QUEUE_FULL, `this API process already holds ${queued} commands (${queue?.length ?? 0} for this aggregate); retry shortly`),
      );
    }
    return new Promise<Submitted>((resolve, reject) => {
      const waiting: Waiting = {
        envelope,
        delivery,
        deadline: now() + timeoutMs,
        bytes: jsonBytes(envelope),
        settled: false,
        settle(outcome) {
          if (waiting.settled) return;
          waiting.settled = true;
          queued -= 1;
          if (log?.isLevelEnabled('debug')) log.debug({ ...commandFields(envelope), status: outcome.status, version: 'version' in outcome ? outcome.version : null }, 'command');
          resolve(outcome);
        },
        fail(error) {
          if (waiting.settled) return;
          waiting.settled = true;
          queued -= 1;
          log?.warn({ ...commandFields(envelope), err: error }, 'command not delivered');
          reject(error);
        },
      };
      queued += 1;
      if (queue) return void queue.push(waiting);
      const fresh = [waiting];
      queues.set(workflowId, fresh);
      drain(workflowId, fresh).catch((error: unknown) => {
        // Not expected (send settles every command): fail what is left, in flight or waiting, rather than leave it waiting.
        queues.delete(workflowId);
        for (const w of fresh.splice(0)) w.fail(error);
      });
    });
  }

  return {
    enqueue,

    /** Commands this process holds, waiting or in flight. */
    get queued() {
      return queued;
    },
  };
}

/** The head of the queue that fits one update: at most `commandsPerUpdate` commands and `updateBytes`. */
export function takeBatch<T extends { bytes: number }>(queue: T[]): T[] {
  let bytes = 0;
  let count = 0;
  while (count < queue.length && count < aggregateLimits.commandsPerUpdate) {
    bytes += queue[count]!.bytes;
    if (count > 0 && bytes > aggregateLimits.updateBytes) break;
    count += 1;
  }
  return queue.splice(0, count);
}

const refusal = (envelope: CommandEnvelope, code: string, message: string): CommandOutcome =>
  rejectedOutcome(envelope, 0, { kind: 'UNAVAILABLE', code, message: `command ${envelope.commandId}: ${message}` });

const commandFields = (envelope: CommandEnvelope) => ({
  aggregate: `${envelope.aggregateType}:${envelope.aggregateId}`,
  command: envelope.type,
  commandId: envelope.commandId,
  correlationId: envelope.metadata.correlationId,
});
