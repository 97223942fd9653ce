/**
 * The checkout's payment activities, built from a payment client the worker's config gives
 * them. `ApplicationFailure` comes from @temporalio/common (not @temporalio/activity), so this
 * module loads anywhere, the workflow bundle included, where it is never called.
 */
import { ApplicationFailure } from '@temporalio/common';
import { PaymentUnavailableError, type PaymentClient } from './client';

export function createPaymentActivities(payments: PaymentClient) {
  const unavailableIsRetryable = async <T>(call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (error) {
      if (error instanceof PaymentUnavailableError) throw ApplicationFailure.retryable(error.message, 'PAYMENT_UNAVAILABLE');
      throw error;
    }
  };
  return {
    /** Charges once per key; a decline is an answer, an unavailable gateway is retried. */
    chargePayment(charge: { idempotencyKey: string; amountCents: number; customerId: string; description: string }) {
      return unavailableIsRetryable(() => payments.charge(charge.idempotencyKey, charge.amountCents, charge.customerId, charge.description));
    },
    refundPayment(idempotencyKey: string): Promise<void> {
      return unavailableIsRetryable(() => payments.refund(idempotencyKey));
    },
  };
}

export type PaymentActivities = ReturnType<typeof createPaymentActivities>;
