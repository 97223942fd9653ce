/**
 * The app: every aggregate it runs, one module each. `npm run dev` (ledgerflow dev) runs it:
 * a Temporal dev server, the worker, the projector and the API on http://127.0.0.1:3000.
 */
import { defineConfig, type RouterOf } from 'ledgerflow';
import { accountModule } from './domain/account';

const config = defineConfig({
  modules: { account: accountModule },
});

export default config;

/** The app's API, for its typed clients: `createLedgerflowClient<AppRouter>(...)`. */
export type AppRouter = RouterOf<typeof config>;
