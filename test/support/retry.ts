import { TRPCClientError } from '@trpc/client';
import type { LedgerRouter } from './domains/ledger.config';

/** What a well-behaved client does: on a retryable refusal, send the same command (same id) again. */
export interface RetryCounts {
  /** Retryable refusals answered along the way (503 with data.retryable, 408). */
  refusedRetryable: number;
}

export const retryableError = (error: unknown): error is TRPCClientError<LedgerRouter> =>
  error instanceof TRPCClientError && (error as TRPCClientError<LedgerRouter>).data?.retryable === true;

/**
 * Calls `send` until it answers or fails with a non-retryable error, waiting a little longer
 * after each retryable refusal; gives up after `deadlineMs`. A retryable refusal names the
 * commandId the caller must resend: this checks that it is the one sent.
 */
export async function untilAnswered<T>(commandId: string, send: () => Promise<T>, counts?: RetryCounts, deadlineMs = 120_000): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await send();
    } catch (error) {
      if (!retryableError(error) || Date.now() > deadline) throw error;
      if (error.data?.commandId !== commandId) throw new Error(`a retryable refusal named ${String(error.data?.commandId)}, not ${commandId}`);
      if (counts) counts.refusedRetryable += 1;
      await new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** attempt, 2000)));
    }
  }
}
