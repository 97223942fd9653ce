/**
 * Bounds on live subscriptions (server-sent events): a cap per caller and in all per API
 * process, and an idle end (tRPC's heartbeat is set in trpc.ts). Ending a stream without
 * tRPC's `return` event makes the client's EventSource reconnect by itself, sending the last
 * event id it saw.
 */

export interface SubscriptionSlots {
  /** Takes a slot for `caller`, or says which bound is reached. The release is idempotent. */
  acquire(caller: string): { release: () => void } | { refused: 'caller' | 'total' };
  readonly open: number;
}

export function createSubscriptionSlots(bounds: { perCaller: number; total: number }): SubscriptionSlots {
  const byCaller = new Map<string, number>();
  let open = 0;
  return {
    get open() {
      return open;
    },
    acquire(caller) {
      const held = byCaller.get(caller) ?? 0;
      if (open >= bounds.total) return { refused: 'total' };
      if (held >= bounds.perCaller) return { refused: 'caller' };
      byCaller.set(caller, held + 1);
      open += 1;
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          open -= 1;
          const left = (byCaller.get(caller) ?? 1) - 1;
          if (left === 0) byCaller.delete(caller);
          else byCaller.set(caller, left);
        },
      };
    },
  };
}

/** tRPC ends a stream that fails with an AbortError without its `return` event: the client reconnects. */
const idleEnd = () => new DOMException('the subscription was idle', 'AbortError');

/**
 * The events of `open(signal)` until `signal` aborts, or until none came for `idleMs`: then
 * the stream is ended so that the client reconnects (an abandoned one never does).
 */
export async function* untilIdle<T>(open: (signal: AbortSignal) => AsyncIterable<T>, signal: AbortSignal, idleMs: number): AsyncGenerator<T> {
  const idle = new AbortController();
  const timer = setTimeout(() => idle.abort(), idleMs);
  try {
    for await (const value of open(AbortSignal.any([signal, idle.signal]))) {
      yield value;
      timer.refresh();
    }
  } finally {
    clearTimeout(timer);
  }
  if (idle.signal.aborted && !signal.aborted) throw idleEnd();
}
