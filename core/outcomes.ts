import type { CommandEnvelope, CommandOutcome, EventEnvelope, OutcomeRecord } from './envelopes';
import type { Rejection } from './errors';
import { aggregateLimits, jsonBytes } from './limits';

type Addressed = Pick<CommandEnvelope, 'commandId' | 'aggregateId'>;

/** The outcome of a refused command: the aggregate stays at `version`. */
export function rejectedOutcome(command: Addressed, version: number, rejection: Rejection): CommandOutcome {
  return { status: 'rejected', commandId: command.commandId, aggregateId: command.aggregateId, version, rejection };
}

/** The outcome of an accepted command: the aggregate's version after its events. */
export function acceptedOutcome(command: Addressed, version: number, events: readonly EventEnvelope[]): CommandOutcome {
  return {
    status: 'accepted',
    commandId: command.commandId,
    aggregateId: command.aggregateId,
    version,
    events: events.map(({ type, version: v, payload }) => ({ type, version: v, payload })),
  };
}

/**
 * What an aggregate remembers of an outcome, at most `outcomeRecordBytes`: events too large to
 * keep are dropped (the answer to a retry says so), a long rejection message is cut.
 */
export function recordOf(outcome: CommandOutcome, maxBytes: number = aggregateLimits.outcomeRecordBytes): OutcomeRecord {
  const { aggregateId: _aggregateId, ...record } = outcome;
  if (jsonBytes(record) <= maxBytes) return record;
  if (record.status === 'accepted') return { ...record, events: [], eventsOmitted: true };
  const { details: _details, ...rejection } = record.rejection;
  const withMessage = (message: string, code = rejection.code): OutcomeRecord => ({ ...record, rejection: { ...rejection, code, message } });
  let message = rejection.message;
  while (message.length > 0 && jsonBytes(withMessage(`${message}…`)) > maxBytes) message = message.slice(0, message.length >> 1);
  const cut = withMessage(message.length > 0 ? `${message}…` : '');
  // Only an absurdly long domain code is left to cut.
  return jsonBytes(cut) <= maxBytes ? cut : withMessage('', rejection.code.slice(0, 64));
}

/** The answer to a retry, from what the aggregate remembered. */
export function answerOf(record: OutcomeRecord, aggregateId: string): CommandOutcome {
  return { ...record, aggregateId } as CommandOutcome;
}
