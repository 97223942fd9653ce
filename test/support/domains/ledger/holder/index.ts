import { defineModule } from 'ledgerflow';
import { holder } from './holder';
import { holderProjection } from './projection';

export * from './state';
export * from './holder';
export * from './projection';

export const holderModule = defineModule({ aggregate: holder, readModel: holderProjection });
