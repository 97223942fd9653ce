import { z } from 'zod';
import { assertNever, defineAggregate, DomainError } from 'ledgerflow';
import { describeHolder, evolveHolder, holderEvents, initialHolder, type HolderState } from './state';

const name = z.string().trim().min(1).max(100);

export const holderCommands = {
  register: z.strictObject({ name }),
  /** Decides nothing when the name is unchanged. */
  rename: z.strictObject({ name }),
  suspend: z.strictObject({}),
  reinstate: z.strictObject({}),
};

export const holderErrorCodes = {
  HOLDER_ALREADY_REGISTERED: 'HOLDER_ALREADY_REGISTERED',
  HOLDER_NOT_REGISTERED: 'HOLDER_NOT_REGISTERED',
  HOLDER_ALREADY_SUSPENDED: 'HOLDER_ALREADY_SUSPENDED',
  HOLDER_NOT_SUSPENDED: 'HOLDER_NOT_SUSPENDED',
} as const;

function requireRegistered(state: HolderState) {
  if (state.status === 'unregistered') throw new DomainError(holderErrorCodes.HOLDER_NOT_REGISTERED, 'the holder is not registered');
}

/** Who an account belongs to: the aggregate an account's `assign` rule looks up. */
export const holder = defineAggregate({
  name: 'holder',
  idField: 'holderId',
  events: holderEvents,
  initialState: initialHolder,
  evolve: evolveHolder,
  describe: describeHolder,
  commands: holderCommands,
  errorCodes: Object.values(holderErrorCodes),
  decide(state, command) {
    switch (command.type) {
      case 'register':
        if (state.status !== 'unregistered') throw new DomainError(holderErrorCodes.HOLDER_ALREADY_REGISTERED, 'this holder is already registered');
        return [{ type: 'HolderRegistered', payload: command.payload }];
      case 'rename':
        requireRegistered(state);
        return state.name === command.payload.name ? [] : [{ type: 'HolderRenamed', payload: command.payload }];
      case 'suspend':
        requireRegistered(state);
        if (state.status === 'suspended') throw new DomainError(holderErrorCodes.HOLDER_ALREADY_SUSPENDED, 'the holder is already suspended');
        return [{ type: 'HolderSuspended', payload: {} }];
      case 'reinstate':
        requireRegistered(state);
        if (state.status !== 'suspended') throw new DomainError(holderErrorCodes.HOLDER_NOT_SUSPENDED, 'the holder is not suspended');
        return [{ type: 'HolderReinstated', payload: {} }];
      default:
        return assertNever(command);
    }
  },
});
