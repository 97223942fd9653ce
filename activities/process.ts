import { ApplicationFailure } from '@temporalio/activity';
import type { CommandBus } from '../commands/bus';
import { buildCommand, type CommandRequest } from '../commands/envelope';
import type { CommandOutcome } from '../core/envelopes';
import { isRetryable } from '../core/errors';
import { PaymentUnavailableError, type PaymentClient } from '../payments/client';

export interface ProcessDeps {
  bus: CommandBus;
  payments: PaymentClient;
}

/** A process's side effects: commands to aggregates, and the payment gateway. */
export function createProcessActivities({ bus, payments }: ProcessDeps) {
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

    /** Charges once per key; a decline is an answer, an unavailable gateway is retried. */
    async chargePayment(charge: { idempotencyKey: string; amountCents: number; customerId: string; description: string }) {
      try {
        return await payments.charge(charge.idempotencyKey, charge.amountCents, charge.customerId, charge.description);
      } catch (error) {
        if (error instanceof PaymentUnavailableError) throw ApplicationFailure.retryable(error.message, 'PAYMENT_UNAVAILABLE');
        throw error;
      }
    },

    async refundPayment(idempotencyKey: string): Promise<void> {
      try {
        await payments.refund(idempotencyKey);
      } catch (error) {
        if (error instanceof PaymentUnavailableError) throw ApplicationFailure.retryable(error.message, 'PAYMENT_UNAVAILABLE');
        throw error;
      }
    },
  };
}
