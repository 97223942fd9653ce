/**
 * The account with a write-side defect a release might ship: a deposit whose entry id ends in
 * `~twice` is decided twice, so one command becomes two events (two versions, one commandId).
 * The drill accounting must see it as Temporal, RabbitMQ and Redis show it.
 */
import { defineAggregate, defineConfig, defineModule } from 'ledgerflow';
import audited from './audited.config';
import { account } from './ledger/account';

export const twiceAccount = defineAggregate({
  ...account,
  decide(state, command, context) {
    const events = account.decide(state, command, context);
    return command.type === 'deposit' && command.payload.entryId.endsWith('~twice') ? [...events, ...events] : events;
  },
});

const { readModel, projections, queries } = audited.modules.account;

/** The audited ledger (with its statements) with this account in place of its own. */
export default defineConfig({ ...audited, modules: { ...audited.modules, account: defineModule({ aggregate: twiceAccount, readModel, projections, queries }) } });
