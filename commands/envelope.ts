import { v7 as uuidv7 } from 'uuid';
import type { CommandEnvelope } from '../core/envelopes';
import { traceparentOf } from '../infra/tracing';

/** Time-ordered (UUIDv7), so an aggregate can refuse a retry older than what it remembers. */
export const newCommandId = (): string => uuidv7();

/** Everything a sender says about a command; the rest of the envelope is filled in here. */
export interface CommandRequest {
  aggregateType: string;
  aggregateId: string;
  type: string;
  payload: Record<string, unknown>;
  /** The idempotency key; generated when absent. Processes pass one derived from themselves. */
  commandId?: string;
  expectedVersion?: number;
  /** Ties the command to what caused it (a request, a process): defaults to the commandId. */
  correlationId?: string;
  causationId?: string;
  userId?: string;
  /** The only clock `decide` sees; defaults to now. */
  issuedAt?: string;
}

/** Builds a command envelope: the one shape the API, processes and the CLI all send. */
export function buildCommand(request: CommandRequest): CommandEnvelope {
  const commandId = request.commandId ?? newCommandId();
  const traceparent = traceparentOf();
  return {
    commandId,
    aggregateType: request.aggregateType,
    aggregateId: request.aggregateId,
    type: request.type,
    payload: request.payload,
    ...(request.expectedVersion === undefined ? {} : { expectedVersion: request.expectedVersion }),
    metadata: {
      correlationId: request.correlationId ?? commandId,
      ...(request.causationId ? { causationId: request.causationId } : {}),
      ...(request.userId ? { userId: request.userId } : {}),
      issuedAt: request.issuedAt ?? new Date().toISOString(),
      ...(traceparent ? { traceparent } : {}),
    },
  };
}
