/**
 * Compile-time test of the generated router (checked by `npm run typecheck`, part of make test).
 * Every `@ts-expect-error` must be an error: if the types went loose, tsc reports the directive
 * as unused and the build fails.
 */
import { createTRPCClient, httpLink } from '@trpc/client';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import type { CommandResult, RouterOf } from 'ledgerflow';
import type { CommandStatus as ClientCommandStatus } from '@ledgerflow/client';
import type { LedgerRouter } from '../support/domains/ledger.config';
import type { AccountReadModel } from '../support/domains/ledger/account';
import type { HolderReadModel } from '../support/domains/ledger/holder';
import type { payoutsConfig } from '../support/domains/payouts.config';

const client = createTRPCClient<LedgerRouter>({ links: [httpLink({ url: 'http://127.0.0.1:3000/trpc' })] });
/** The ledger whose withdrawals start a payout process, confirmed by a command only processes send. */
const payouts = createTRPCClient<RouterOf<typeof payoutsConfig>>({ links: [httpLink({ url: 'http://127.0.0.1:3000/trpc' })] });

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const expectType = <T extends true>(_: T) => undefined;

export async function typedClientCompiles() {
  const deposited = await client.account.deposit.mutate({ accountId: 'a', entryId: 'e1', amount: 1.5 });
  expectType<Equal<typeof deposited, CommandResult>>(true);
  const version: number | null = deposited.version;

  const account = await client.account.get.query({ accountId: 'a', minVersion: 1 });
  expectType<Equal<typeof account, AccountReadModel>>(true);
  const balance: number = account.balance;

  await client.account.depositMany.mutate({ accountId: 'a', entries: [{ entryId: 'e2', amount: 2 }], expectedVersion: 3, commandId: 'k', wait: 'projected' });
  await client.holder.register.mutate({ holderId: 'h', name: 'Ada' });
  await client.account.assign.mutate({ accountId: 'a', holderId: 'h' });
  const holder = await client.holder.get.query({ holderId: 'h' });
  expectType<Equal<typeof holder, HolderReadModel>>(true);
  const held = await client.account.byHolder.query({ holderId: 'h', limit: 5 });
  expectType<Equal<typeof held, AccountReadModel[]>>(true);
  await client.account.withdraw.mutate({ accountId: 'a', entryId: 'e3', amount: 1, wait: 'none' });
  await payouts.account.withdraw.mutate({ accountId: 'a', entryId: 'e4', amount: 1 });
  const health = await client.system.health.query();
  const ok: boolean = health.ok;
  const outcome = await client.system.commandOutcome.query({ aggregateType: 'account', aggregateId: 'a', commandId: deposited.commandId });
  expectType<Equal<typeof outcome, ClientCommandStatus>>(true);
  const settled: boolean = outcome.status === 'accepted' || outcome.status === 'rejected';
  return [version, balance, ok, holder.name, settled];
}

export async function wrongInputsDoNotCompile() {
  // @ts-expect-error amount is a number
  await client.account.deposit.mutate({ accountId: 'a', entryId: 'e', amount: '1' });
  // @ts-expect-error amount is required
  await client.account.deposit.mutate({ accountId: 'a', entryId: 'e' });
  // @ts-expect-error the id field is accountId
  await client.account.deposit.mutate({ id: 'a', entryId: 'e', amount: 1 });
  // @ts-expect-error wait takes none | processed | projected
  await client.account.close.mutate({ accountId: 'a', wait: 'eventually' });
  // @ts-expect-error depositMany needs its entries
  await client.account.depositMany.mutate({ accountId: 'a' });
  // @ts-expect-error an entry of depositMany has an amount
  await client.account.depositMany.mutate({ accountId: 'a', entries: [{ entryId: 'e' }] });
  // @ts-expect-error only the payout process confirms a payout: not offered to clients
  await payouts.account.confirmPayout.mutate({ accountId: 'a', entryId: 'e', reference: 'r' });
  // @ts-expect-error the holder's id field is holderId
  await client.account.byHolder.query({ accountId: 'a' });
  // @ts-expect-error expectedVersion is a number
  await client.account.close.mutate({ accountId: 'a', expectedVersion: 'v1' });
  // @ts-expect-error no such procedure
  await client.account.transfer.mutate({ accountId: 'a' });
  // @ts-expect-error no such aggregate
  await client.wallet.get.query({ walletId: 'w' });
  // @ts-expect-error get is a query, not a mutation
  await client.account.get.mutate({ accountId: 'a' });
  const account = await client.account.get.query({ accountId: 'a' });
  // @ts-expect-error the read model has no such field
  account.overdraft;
}

// The input and output types a server-side caller or a form library would derive.
type Inputs = inferRouterInputs<LedgerRouter>;
type Outputs = inferRouterOutputs<LedgerRouter>;
expectType<Equal<Inputs['account']['deposit']['amount'], number>>(true);
expectType<Equal<Inputs['account']['depositMany']['entries'][number]['entryId'], string>>(true);
expectType<Equal<Outputs['account']['get']['status'], 'open' | 'closed'>>(true);
expectType<Equal<Outputs['holder']['get']['status'], 'active' | 'suspended'>>(true);
expectType<Equal<Outputs['account']['get']['holderId'], string | null>>(true);
