/**
 * An app that keeps its own tRPC router, context and authentication, and mounts Ledgerflow's
 * router inside it on its own HTTP server (tRPC's standalone adapter): the app's procedures and
 * the ledger's commands and queries answer from one endpoint, and the app's user reaches each
 * command's metadata.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import { initTRPC, TRPCError } from '@trpc/server';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import { createLedgerflowContext, createRouter, type ApiContext } from 'ledgerflow/server';
import { createLogger } from '../../infra/logger';
import ledger from '../support/domains/ledger.config';
import { startLedgerStack, uniqueId, type LedgerStack } from '../support/stack';

/** The app's own context: its signed-in user, beside everything Ledgerflow's procedures need. */
type AppContext = ApiContext & { user: string | null };

function appRouterOf() {
  const t = initTRPC.context<AppContext>().create();
  const signedIn = t.procedure.use(({ ctx, next }) => {
    if (!ctx.user) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'sign in first' });
    return next();
  });
  return t.router({
    whoami: signedIn.query(({ ctx }) => ({ user: ctx.user })),
    // Ledgerflow's router, nested under the app's: `ledger.account.deposit`, `ledger.account.get`, ...
    ledger: createRouter(ledger),
  });
}
type OwnRouter = ReturnType<typeof appRouterOf>;

describe('Ledgerflow’s router mounted in an app’s own tRPC router and server', { timeout: 300_000 }, () => {
  let stack: LedgerStack;
  let server: ReturnType<typeof createHTTPServer>;
  let ledgerflow: ReturnType<typeof createLedgerflowContext>;
  let url: string;
  const clientFor = (user?: string) =>
    createTRPCClient<OwnRouter>({ links: [httpLink({ url, headers: () => (user ? { 'x-user': user } : {}) })] });

  before(async () => {
    stack = await startLedgerStack({ api: false });
    ledgerflow = createLedgerflowContext(ledger, stack.config, createLogger('own-router', 'silent'));
    server = createHTTPServer({
      router: appRouterOf(),
      // The app authenticates (here: a header) and hands Ledgerflow the user; API_TOKENS is unset, so Ledgerflow adds no check of its own.
      createContext: ({ req }): AppContext => {
        const user = typeof req.headers['x-user'] === 'string' ? req.headers['x-user'] : null;
        return { ...ledgerflow.context({ userId: user, correlationId: uniqueId('corr') }), user };
      },
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await ledgerflow?.close();
    await stack?.stop();
  });

  it('answers the app’s own procedures with its own auth', async () => {
    assert.deepEqual(await clientFor('ada').whoami.query(), { user: 'ada' });
    const refused = await clientFor().whoami.query().catch((error: unknown) => error);
    assert.ok(refused instanceof TRPCClientError && refused.data?.code === 'UNAUTHORIZED');
  });

  it('runs the ledger’s commands and queries under the app’s router, with the app’s user on each command', async () => {
    const accountId = uniqueId('own');
    const ada = clientFor('ada');
    const added = await ada.ledger.account.deposit.mutate({ accountId, entryId: 'tea', amount: 7 });
    assert.equal(added.version, 1);
    assert.equal(added.events[0]?.type, 'Deposited');
    const account = await ada.ledger.account.get.query({ accountId, minVersion: 1 });
    assert.deepEqual(account.entries, [{ entryId: 'tea', amount: 7 }]);
    assert.equal(account.balance, 7);
    // Bad input keeps Ledgerflow's typed error under the app's router.
    const bad = await ada.ledger.account.deposit.mutate({ accountId, entryId: 'tea', amount: 0 }).catch((error: unknown) => error);
    assert.ok(bad instanceof TRPCClientError && bad.data?.code === 'BAD_REQUEST');
    // The user the app authenticated is in the command's metadata, as the workflow recorded it.
    const history = await stack.temporal.workflow.getHandle(`account:${accountId}`).fetchHistory();
    const submitted = (history.events ?? []).flatMap((event) => {
      const payload = event.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.args?.payloads?.[0]?.data;
      return payload ? (JSON.parse(Buffer.from(payload).toString('utf8')) as { commandId: string; metadata: { userId?: string } }[]) : [];
    });
    const command = submitted.find((c) => c.commandId === added.commandId);
    assert.ok(command, 'the command is in the aggregate’s history');
    assert.equal(command.metadata.userId, 'ada');
  });
});
