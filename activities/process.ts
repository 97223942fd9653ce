import { ApplicationFailure } from '@temporalio/activity';
import type { CommandBus } from '../commands/bus';
import { buildCommand, type CommandRequest } from '../commands/envelope';
import type { CommandOutcome } from '../core/envelopes';
import { isRetryable } from '../core/errors';

export interface ProcessDeps {
  bus: CommandBus;
}

/** What the engine does for a process: send its commands (an app's own activities do the rest). */
export function createProcessActivities({ bus }: ProcessDeps) {
  return {
    /**
     * Sends a command (with the process's deterministic commandId) and returns its outcome. A
     * retryable refusal (a full backlog, a timeout) fails the activity so Temporal retries it
     * with the same id; a domain refusal is an outcome the process decides about.
     */
    async sendCommand(request: CommandRequest & { commandId: string }): Promise<CommandOutcome> {
      const outcome = await bus.submit(buildCommand(request));
      if (outcome.status === 'rejected' && isRetryable(outcome.rejection.kind)) {
        throw ApplicationFailure.retryable(outcome.rejection.message, outcome.rejection.code);
      }
      return outcome;
    },
  };
}
