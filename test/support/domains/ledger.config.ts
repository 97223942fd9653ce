/**
 * The engine tests' own domain, written as an app writes one: accounts that take deposits and
 * withdrawals (commands deciding none, one or several events, a domain error, a terminal state,
 * a rule that looks up the account's holder), a read model with an index and a custom query.
 */
import { defineConfig, type RouterOf } from 'ledgerflow';
import { accountModule } from './ledger/account';
import { holderModule } from './ledger/holder';

const config = defineConfig({ modules: { account: accountModule, holder: holderModule } });

export default config;

export type LedgerRouter = RouterOf<typeof config>;
