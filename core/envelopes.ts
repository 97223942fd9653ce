import { z } from 'zod';
import type { Rejection } from './errors';

/** Printable ASCII, so an id's size is known wherever it is carried (logs, outcomes, history). */
export const commandIdPattern = /^[!-~]{1,128}$/;
export const commandIdMessage = 'must be 1-128 printable ASCII characters (no spaces)';

export const commandMetadataSchema = z.object({
  correlationId: z.string().min(1),
  causationId: z.string().min(1).optional(),
  userId: z.string().min(1).optional(),
  /** ISO timestamp set by the sender; the only clock `decide` ever sees. */
  issuedAt: z.iso.datetime(),
  /** W3C trace context of the call that sent it (while tracing is on); its events carry it on. */
  traceparent: z.string().max(128).optional(),
});

export const commandEnvelopeSchema = z.object({
  /** The idempotency key: the same id twice is applied once and answers the same outcome. */
  commandId: z.string().regex(commandIdPattern, commandIdMessage),
  aggregateType: z.string().min(1),
  aggregateId: z.string().min(1),
  type: z.string().min(1),
  payload: z.record(z.string(), z.unknown()),
  expectedVersion: z.number().int().nonnegative().optional(),
  metadata: commandMetadataSchema,
});

export type CommandMetadata = z.infer<typeof commandMetadataSchema>;
export type CommandEnvelope = z.infer<typeof commandEnvelopeSchema>;

export const eventEnvelopeSchema = z.object({
  eventId: z.string().min(1),
  aggregateType: z.string().min(1),
  aggregateId: z.string().min(1),
  /** Gapless per aggregate, starting at 1. */
  version: z.number().int().positive(),
  type: z.string().min(1),
  schemaVersion: z.number().int().positive(),
  payload: z.record(z.string(), z.unknown()),
  occurredAt: z.iso.datetime(),
  commandId: z.string(),
  correlationId: z.string(),
  causationId: z.string(),
  /** The command's W3C trace context, when it had one: publishing and projecting continue its trace. */
  traceparent: z.string().optional(),
});

export type EventEnvelope = z.infer<typeof eventEnvelopeSchema>;

/** What a command came to: the events it produced, or why it was refused. */
export type CommandOutcome =
  | {
      status: 'accepted';
      commandId: string;
      aggregateId: string;
      version: number;
      events: DecidedEvent[];
      /**
       * Set on the answer to a retry when the original events were too large to remember (see
       * `aggregateLimits.outcomeRecordBytes`): `version` is still the original one.
       */
      eventsOmitted?: true;
    }
  | { status: 'rejected'; commandId: string; aggregateId: string; version: number; rejection: Rejection };

/** An outcome as an aggregate remembers it for idempotency: bounded in size, without its aggregate id. */
export type OutcomeRecord = DistributiveOmit<CommandOutcome, 'aggregateId'>;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export interface DecidedEvent {
  type: string;
  version: number;
  payload: Record<string, unknown>;
}
