/** Names a failure for the tallies, and says whether it is a refusal worth retrying. */
import { TRPCClientError } from '@trpc/client';
import type { Verdict } from './load';

/** gRPC status codes that mean "busy or briefly away": RESOURCE_EXHAUSTED, UNAVAILABLE. */
const retryableGrpc = new Set([8, 14]);

function grpcCodeOf(error: unknown): number | undefined {
  for (let e = error as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'number') return e.code;
  }
  return undefined;
}

/** A Temporal client call (the ceiling). */
export function classifyTemporal(error: unknown): Verdict {
  const code = grpcCodeOf(error);
  if (code !== undefined) return { retry: retryableGrpc.has(code), code: `grpc-${code}` };
  return { retry: false, code: error instanceof Error ? error.name : 'unknown' };
}

/**
 * A tRPC call to the Ledgerflow API. SERVICE_UNAVAILABLE (a full backlog or mailbox, Temporal
 * briefly away) and anything marked `retryable` is retried with the same commandId, which the
 * aggregate deduplicates; domain refusals are counted under their domain code.
 */
export function classifyTrpc(error: unknown): Verdict {
  if (error instanceof TRPCClientError) {
    const data = (error.data ?? {}) as { code?: string; domainCode?: string; retryable?: boolean };
    const code = data.domainCode ?? data.code ?? (error.cause ? `network: ${error.cause.message}` : 'NETWORK');
    return { retry: data.retryable === true || data.code === 'SERVICE_UNAVAILABLE' || data.code === 'TOO_MANY_REQUESTS', code };
  }
  return { retry: false, code: error instanceof Error ? error.name : 'unknown' };
}
