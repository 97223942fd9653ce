/**
 * The account with a write-side defect a release might ship: a deposit whose entry id ends in
 * `~twice` is decided twice, so one command becomes two events (two versions, one commandId).
 * The drill accounting must see it as Temporal, RabbitMQ and Redis show it.
 */
import { defineAggregate, defineConfig, defineModule } from 'ledgerflow';
import ledger from './ledger.config';
import { account } from './ledger/account';

export const twiceAccount = defineAggregate({
  ...account,
  decide(state, command, context) {
    const events = account.decide(state, command, context);
    return command.type === 'deposit' && command.payload.entryId.endsWith('~twice') ? [...events, ...events] : events;
  },
});

const { readModel, projections, queries } = ledger.modules.account;

/** The ledger with this account in place of its own. */
export default defineConfig({ ...ledger, modules: { ...ledger.modules, account: defineModule({ aggregate: twiceAccount, readModel, projections, queries }) } });
