/**
 * `wait: 'none'` answers before anything is decided, so its client-side rate says only how fast
 * mailboxes accept. A command counts as done once the read model shows it: this waits until every
 * cart a scenario addressed has reached the version its commands lead to.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { trpcCodeOf, type LedgerflowClient } from './client';

export interface DrainTarget {
  cartId: string;
  version: number;
}

export interface DrainResult {
  /** Carts that had not reached their version by the deadline, with the version they showed. */
  missing: { cartId: string; expected: number; actual: number | null }[];
}

const concurrency = 25;

export async function drain(client: LedgerflowClient, targets: readonly DrainTarget[], timeoutSeconds: number): Promise<DrainResult> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  const missing: DrainResult['missing'] = [];
  let next = 0;
  const visible = async ({ cartId, version }: DrainTarget) => {
    while (Date.now() < deadline) {
      try {
        // Waits (up to 5 s, server side) for the projector to announce the version.
        await client.cart.get.query({ cartId, minVersion: version });
        return;
      } catch (error) {
        if (trpcCodeOf(error) !== 'TIMEOUT') await sleep(100);
      }
    }
    const actual = await client.cart.get.query({ cartId }).then((doc) => doc.version, () => null);
    missing.push({ cartId, expected: version, actual });
  };
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < targets.length) await visible(targets[next++]!);
    }),
  );
  return { missing };
}
