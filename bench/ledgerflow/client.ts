/**
 * The benchmark drives Ledgerflow the way an app does: the typed tRPC client over HTTP. Every
 * command carries a commandId fixed by the caller, so a retried refusal is the same command.
 */
import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import type { AppRouter } from '../../examples/shop/ledgerflow.config';

export type WaitMode = 'none' | 'processed' | 'projected';

export function createLedgerflowClient(apiUrl: string) {
  return createTRPCClient<AppRouter>({ links: [httpLink({ url: `${apiUrl}/trpc` })] });
}

export type LedgerflowClient = ReturnType<typeof createLedgerflowClient>;

/** One price for every item: a second price for the same item would be refused (PRICE_MISMATCH). */
const price = 0.5;

/** Adds one of `itemId`; resolves with the cart's new version (null when only queued). */
export async function addItem(client: LedgerflowClient, cartId: string, itemId: string, commandId: string, wait: WaitMode): Promise<number | null> {
  const result = await client.cart.addItem.mutate({ cartId, itemId, quantity: 1, price, commandId, wait });
  return result.version;
}

export async function removeItem(client: LedgerflowClient, cartId: string, itemId: string, commandId: string, wait: WaitMode): Promise<number | null> {
  const result = await client.cart.removeItem.mutate({ cartId, itemId, commandId, wait });
  return result.version;
}

/** The domain code of a refusal, if it is one. */
export const domainCodeOf = (error: unknown): string | undefined =>
  error instanceof TRPCClientError ? ((error.data ?? {}) as { domainCode?: string }).domainCode : undefined;

export const trpcCodeOf = (error: unknown): string | undefined =>
  error instanceof TRPCClientError ? ((error.data ?? {}) as { code?: string }).code : undefined;
