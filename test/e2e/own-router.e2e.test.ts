/**
 * An app that keeps its own server, context and authentication: (1) it mounts Ledgerflow's
 * router inside its own tRPC router on its own HTTP server (tRPC's standalone adapter): the app's
 * procedures and the ledger's commands and queries answer from one endpoint; (2) it registers
 * Ledgerflow's Fastify plugin on the Fastify server it already runs, under a prefix of its own.
 * Either way the app's user reaches each command's metadata.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import { initTRPC, TRPCError } from '@trpc/server';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import Fastify, { type FastifyInstance } from 'fastify';
import { createLedgerflowContext, createRouter, ledgerflowFastify, type ApiContext } from 'ledgerflow/server';
import { createLedgerflowClient } from '@ledgerflow/client';
import { createLogger } from '../../infra/logger';
import ledger, { type LedgerRouter } from '../support/domains/ledger.config';
import { eventually, startLedgerStack, uniqueId, type LedgerStack } from '../support/stack';

/** The app's sessions (its own authentication): token → user. */
const sessions: Record<string, string> = { 'session-ada': 'ada' };

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
  let fastify: FastifyInstance;
  let fastifyUrl: string;
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

    // The app's own Fastify server: a route of its own, and Ledgerflow's API under /ledger.
    fastify = Fastify();
    fastify.get('/hello', async () => ({ hello: 'from the app' }));
    await fastify.register(ledgerflowFastify, {
      prefix: '/ledger',
      app: ledger,
      ledgerflow,
      log: createLogger('own-fastify', 'silent'),
      // The app's sessions: a bearer token (for a subscription, its connectionParams token) names the user.
      identify: (request, info) => {
        const session = request.headers.authorization?.replace(/^Bearer /, '') ?? info.connectionParams?.token;
        const user = session ? sessions[session] : undefined;
        if (!user) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'sign in first' });
        return { userId: user };
      },
    });
    await fastify.listen({ port: 0, host: '127.0.0.1' });
    fastifyUrl = `http://127.0.0.1:${(fastify.server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await fastify?.close();
    await ledgerflow?.close();
    await stack?.stop();
  });

  /** The user each command of an account was sent by, as the workflow recorded it. */
  async function usersOf(accountId: string): Promise<Record<string, string | undefined>> {
    const history = await stack.temporal.workflow.getHandle(`account:${accountId}`).fetchHistory();
    const submitted = (history.events ?? []).flatMap((event) => {
      const payload = event.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.args?.payloads?.[0]?.data;
      return payload ? (JSON.parse(Buffer.from(payload).toString('utf8')) as { commandId: string; metadata: { userId?: string } }[]) : [];
    });
    return Object.fromEntries(submitted.map((command) => [command.commandId, command.metadata.userId]));
  }

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
    assert.equal((await usersOf(accountId))[added.commandId], 'ada');
  });

  it('serves the ledger’s commands, queries and subscriptions through the Fastify plugin on the app’s own server, with the app’s user on each command', async () => {
    assert.deepEqual(await (await fetch(`${fastifyUrl}/hello`)).json(), { hello: 'from the app' }, 'the app’s own route');
    const health = await fetch(`${fastifyUrl}/ledger/health`);
    assert.equal(health.status, 200);
    assert.equal(((await health.json()) as { ok: boolean }).ok, true);

    const accountId = uniqueId('fastify');
    const ada = createLedgerflowClient<LedgerRouter>({ url: `${fastifyUrl}/ledger`, token: 'session-ada' });
    // A live subscription first (its session in connectionParams), then the command it should see.
    const seen: { version: number; balance: number }[] = [];
    const subscription = ada.account.onChange.subscribe({ accountId }, { onData: ({ data }) => seen.push({ version: data.version, balance: data.balance }) });
    try {
      const deposited = await ada.account.deposit.mutate({ accountId, entryId: 'coffee', amount: 4 });
      assert.deepEqual([deposited.version, deposited.events[0]?.type], [1, 'Deposited']);
      const account = await ada.account.get.query({ accountId, minVersion: 1 });
      assert.deepEqual([account.entries, account.balance], [[{ entryId: 'coffee', amount: 4 }], 4]);
      await eventually(async () => seen.find((s) => s.version === 1), 60_000, 'the subscription’s update');
      assert.deepEqual(seen.at(-1), { version: 1, balance: 4 });
      assert.equal((await usersOf(accountId))[deposited.commandId], 'ada');
    } finally {
      subscription.unsubscribe();
    }

    // The app's authentication refuses an unknown session, for commands and subscriptions alike.
    const stranger = createLedgerflowClient<LedgerRouter>({ url: `${fastifyUrl}/ledger`, token: 'no-such-session', retries: 0 });
    const refused = await stranger.account.deposit.mutate({ accountId, entryId: 'tea', amount: 1 }).catch((error: unknown) => error);
    assert.ok(refused instanceof TRPCClientError && refused.data?.code === 'UNAUTHORIZED', String(refused));
    const refusedStream = await new Promise<string | undefined>((resolve) => {
      const sub = stranger.account.onChange.subscribe({ accountId }, { onError: (error) => (sub.unsubscribe(), resolve(error.data?.code)) });
    });
    assert.equal(refusedStream, 'UNAUTHORIZED');
    assert.equal((await ada.account.get.query({ accountId })).version, 1, 'nothing more was deposited');
  });
});
