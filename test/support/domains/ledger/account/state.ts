/** The account's events, its state and how the events change it (commands and `decide` are in account.ts). */
import { z } from 'zod';
import { assertNever, cents, fromCents, type MessageOf } from 'ledgerflow';

const entryId = z.string();

export const accountEvents = {
  Deposited: z.object({ entryId, amountCents: cents }),
  Withdrawn: z.object({ entryId, amountCents: cents }),
  HolderAssigned: z.object({ holderId: z.string(), holderVersion: z.number().int().positive() }),
  AccountClosed: z.object({}),
};

export type AccountEvent = MessageOf<typeof accountEvents>;

/** Small whatever the traffic: a balance, not the entries (they are in the read model). */
export interface AccountState {
  status: 'open' | 'closed';
  balanceCents: number;
  holderId: string | null;
}

export const initialAccount = (): AccountState => ({ status: 'open', balanceCents: 0, holderId: null });

export function evolveAccount(state: AccountState, event: AccountEvent): AccountState {
  switch (event.type) {
    case 'Deposited':
      return { ...state, balanceCents: state.balanceCents + event.payload.amountCents };
    case 'Withdrawn':
      return { ...state, balanceCents: state.balanceCents - event.payload.amountCents };
    case 'HolderAssigned':
      return { ...state, holderId: event.payload.holderId };
    case 'AccountClosed':
      return { ...state, status: 'closed' };
    default:
      return assertNever(event);
  }
}

export const isAccountClosed = (state: AccountState) => state.status === 'closed';

export const describeAccount = (state: AccountState): string =>
  `**Account** — ${state.status}, balance ${fromCents(state.balanceCents).toFixed(2)}${state.holderId ? `, held by ${state.holderId}` : ''}`;
