/**
 * The existing aggregates the warm and cold scenarios address. The benchmark remembers, per cart,
 * the version it should have reached (to know when `wait: 'none'` commands are visible) and how
 * many items it was sent (items cycle through a few ids, so a cart never nears its line limit).
 */
export interface Pool {
  ids: string[];
  /** The version each cart reaches once every command sent so far is decided. */
  versions: number[];
  sent: number[];
}

/** Distinct items a pool cart cycles through: far below any line limit, 99 of each allowed. */
const itemsPerCart = 20;

export const createPool = (): Pool => ({ ids: [], versions: [], sent: [] });

export function addToPool(pool: Pool, cartId: string, version: number): void {
  pool.ids.push(cartId);
  pool.versions.push(version);
  pool.sent.push(1);
}

/** The item the next command to cart `index` adds (the same on a retry: it moves on only with an answer). */
export function nextItem(pool: Pool, index: number): string {
  return `i${pool.sent[index]! % itemsPerCart}`;
}

/** Records a command's answer: its version when decided, one more expected when only queued. */
export function recordAnswer(pool: Pool, index: number, version: number | null): void {
  pool.sent[index]! += 1;
  pool.versions[index] = version === null ? pool.versions[index]! + 1 : Math.max(pool.versions[index]!, version);
}
