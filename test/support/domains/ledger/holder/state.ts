/** The holder's events, its state and how the events change it (commands and `decide` are in holder.ts). */
import { z } from 'zod';
import { assertNever, type MessageOf } from 'ledgerflow';

export const holderEvents = {
  HolderRegistered: z.object({ name: z.string() }),
  HolderRenamed: z.object({ name: z.string() }),
  HolderSuspended: z.object({}),
  HolderReinstated: z.object({}),
};

export type HolderEvent = MessageOf<typeof holderEvents>;

export interface HolderState {
  status: 'unregistered' | 'active' | 'suspended';
  name: string;
}

export const initialHolder = (): HolderState => ({ status: 'unregistered', name: '' });

export function evolveHolder(state: HolderState, event: HolderEvent): HolderState {
  switch (event.type) {
    case 'HolderRegistered':
      return { status: 'active', name: event.payload.name };
    case 'HolderRenamed':
      return { ...state, name: event.payload.name };
    case 'HolderSuspended':
      return { ...state, status: 'suspended' };
    case 'HolderReinstated':
      return { ...state, status: 'active' };
    default:
      return assertNever(event);
  }
}

export const describeHolder = (state: HolderState): string => `**Holder** — ${state.status === 'unregistered' ? 'not registered' : `${state.name}, ${state.status}`}`;
