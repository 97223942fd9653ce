/** The account's events, its state and how the events change it (commands and `decide` are in account.ts). */
import { z } from 'zod';
import { assertNever, fromCents, type MessageOf } from 'ledgerflow';

// Amounts are integer cents inside the domain, so sums are exact.
export const accountEvents = {
  AccountOpened: z.object({ owner: z.string() }),
  MoneyDeposited: z.object({ amountCents: z.number().int() }),
  MoneyWithdrawn: z.object({ amountCents: z.number().int() }),
};

export type AccountEvent = MessageOf<typeof accountEvents>;

export interface AccountState {
  status: 'unopened' | 'open';
  owner: string;
  balanceCents: number;
}

export const initialAccount = (): AccountState => ({ status: 'unopened', owner: '', balanceCents: 0 });

export function evolveAccount(state: AccountState, event: AccountEvent): AccountState {
  switch (event.type) {
    case 'AccountOpened':
      return { status: 'open', owner: event.payload.owner, balanceCents: 0 };
    case 'MoneyDeposited':
      return { ...state, balanceCents: state.balanceCents + event.payload.amountCents };
    case 'MoneyWithdrawn':
      return { ...state, balanceCents: state.balanceCents - event.payload.amountCents };
    default:
      return assertNever(event);
  }
}

/** A short Markdown summary for the Temporal Web UI. */
export const describeAccount = (state: AccountState): string =>
  `**Account** — ${state.status === 'unopened' ? 'not opened' : `${state.owner}, balance ${fromCents(state.balanceCents).toFixed(2)}`}`;
