import { assertNever, defineProjection } from 'ledgerflow';
import { holder } from './holder';

/** A holder as clients read it. */
export interface HolderReadModel {
  holderId: string;
  name: string;
  status: 'active' | 'suspended';
  version: number;
}

export const holderProjection = defineProjection<HolderReadModel, typeof holder.events>({
  name: 'holders',
  version: 1,
  source: holder,
  evolve(current, event) {
    if (event.type === 'HolderRegistered') return { holderId: event.aggregateId, name: event.payload.name, status: 'active', version: event.version };
    if (!current) return null; // nothing before registration is ever decided
    switch (event.type) {
      case 'HolderRenamed':
        return { ...current, name: event.payload.name, version: event.version };
      case 'HolderSuspended':
        return { ...current, status: 'suspended', version: event.version };
      case 'HolderReinstated':
        return { ...current, status: 'active', version: event.version };
      default:
        return assertNever(event);
    }
  },
});
