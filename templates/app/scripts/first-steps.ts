/**
 * A first command and query from a typed client, against `npm run dev`:
 *   npx tsx scripts/first-steps.ts [accountId]
 * Every input and result is typed by the app's AppRouter: a wrong field is a compile error.
 */
import { createLedgerflowClient } from '@ledgerflow/client';
import type { AppRouter } from '../ledgerflow.config';

const client = createLedgerflowClient<AppRouter>({ url: process.env.LEDGERFLOW_URL ?? 'http://127.0.0.1:3000' });

async function main(accountId: string) {
  await client.account.open.mutate({ accountId, owner: 'ada' });
  const deposited = await client.account.deposit.mutate({ accountId, amount: 25 });
  console.log(`deposited: version ${deposited.version}`);

  // Reads are eventually consistent: minVersion waits until the read model has this command's events.
  const read = await client.account.get.query({ accountId, minVersion: deposited.version ?? 1 });
  console.log(`${read.accountId}: balance ${read.balance}`);

  const accounts = await client.account.byOwner.query({ owner: 'ada' });
  console.log(`ada has ${accounts.length} account(s): ${accounts.map((a) => `${a.accountId} ${a.balance}`).join(', ')}`);

  await client.account.withdraw.mutate({ accountId, amount: 100 }).catch((error: { data?: { code?: string; domainCode?: string } }) => {
    console.log(`refused: ${error.data?.code} ${error.data?.domainCode}`);
  });
}

main(process.argv[2] ?? `acc-${Date.now()}`).catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
