import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { ZodType } from 'zod';
import type { Access } from '../../api/access';
import { createLedgerflowClient } from '../../client/index';
import { createRouter } from '../../api/router';
import ledger, { type LedgerRouter } from '../support/domains/ledger.config';

const appRouter = createRouter(ledger);
import { startApiServer } from '../../api/server';
import type { ApiRole } from '../../core/config';
import { createLogger } from '../../infra/logger';
import type { Redis } from '../../infra/redis';
import { projectionKeys } from '../../projectors/keys';
import { startLedgerStack, uniqueId, type LedgerStack } from '../support/stack';

const tokens: Record<ApiRole, string> = { admin: uniqueId('admin'), client: uniqueId('client'), metrics: uniqueId('metrics') };
const roles = Object.keys(tokens) as ApiRole[];
const appOrigin = 'https://app.example.com';

/**
 * What each procedure needs, by rule rather than by list, so a procedure added to the router is
 * covered without touching this file: system.health is public, system.commandOutcome (what a
 * client sent) for clients, the rest of system.* for admins, every aggregate's commands,
 * queries and subscriptions for clients.
 */
const needs = (path: string): Access =>
  path === 'system.health' ? 'public' : path === 'system.commandOutcome' ? 'client' : path.startsWith('system.') ? 'admin' : 'client';
/** Who may reach what: written out here, not imported, so the test checks the server's table. */
const mayReach: Record<Access, readonly ApiRole[]> = {
  public: roles,
  client: ['client', 'admin'],
  admin: ['admin'],
  metrics: ['metrics', 'admin'],
};
/** The HTTP endpoints beside /trpc. */
const endpoints: [string, Access][] = [
  ['/metrics', 'metrics'],
  ['/health', 'public'],
  ['/console', 'public'],
];

type ProcedureType = 'query' | 'mutation' | 'subscription';
// At run time the router keeps its procedures flat, by path (`account.deposit`), each with its input schemas.
const procedures = Object.entries(appRouter._def.procedures as unknown as Record<string, { _def: { type: ProcedureType; inputs: ZodType[] } }>).map(
  ([path, p]) => ({ path, type: p._def.type, inputs: p._def.inputs }),
);

/** Each aggregate's id field: a command for it addresses the workflow `<aggregate>:<id>`. */
const idFields: Record<string, string> = { account: 'accountId', holder: 'holderId' };

/** Ids of documents that exist, so a subscription let through streams one at once. */
interface Existing {
  accountId: string;
  holderId: string;
}

/**
 * An input validation accepts, per procedure (the sweep checks each against the procedure's own
 * schema, and fails on a procedure missing here). Every command addresses an aggregate id of its
 * own that was never used (`<run>.<path>`), so a command let through would start its workflow;
 * queries and subscriptions read documents that exist.
 */
function validInputs(run: string, existing: Existing): Record<string, unknown> {
  const fresh = (path: string) => `${run}.${path}`;
  const entry = { entryId: 'book', amount: 3 };
  return {
    'account.deposit': { accountId: fresh('account.deposit'), ...entry },
    'account.withdraw': { accountId: fresh('account.withdraw'), ...entry },
    'account.depositMany': { accountId: fresh('account.depositMany'), entries: [entry] },
    'account.assign': { accountId: fresh('account.assign'), holderId: existing.holderId },
    'account.close': { accountId: fresh('account.close') },
    'account.get': { accountId: existing.accountId },
    'account.onChange': { accountId: existing.accountId },
    'account.byHolder': { holderId: existing.holderId },
    'holder.register': { holderId: fresh('holder.register'), name: 'Mallory' },
    'holder.rename': { holderId: fresh('holder.rename'), name: 'Mallory' },
    'holder.suspend': { holderId: fresh('holder.suspend') },
    'holder.reinstate': { holderId: fresh('holder.reinstate') },
    'holder.get': { holderId: existing.holderId },
    'holder.onChange': { holderId: existing.holderId },
    'system.commandOutcome': { aggregateType: 'account', aggregateId: existing.accountId, commandId: 'any' },
    'system.parked': { projection: 'accounts' },
    'system.redrive': { projection: 'accounts' },
    'system.rebuild': { projection: 'accounts' },
    'system.gaps': { projection: 'accounts' },
  };
}

/** The workflow a command addresses (null for a procedure that addresses none). */
function workflowOf(path: string, type: ProcedureType, input: unknown): string | null {
  const aggregate = path.split('.')[0]!;
  const idField = idFields[aggregate];
  if (type !== 'mutation' || !idField) return null;
  return `${aggregate}:${String((input as Record<string, unknown>)[idField])}`;
}

/**
 * Every key under the run's Redis prefix with its value, but those with a TTL (the projector's
 * lease and status, which expire on their own).
 */
async function redisState(redis: Redis, prefix: string): Promise<Map<string, string>> {
  const state = new Map<string, string>();
  for await (const keys of redis.scanIterator({ MATCH: `${prefix}:*`, COUNT: 500 })) {
    for (const key of keys) {
      if ((await redis.pTTL(key)) !== -1) continue;
      const type = await redis.type(key);
      const value =
        type === 'string' ? await redis.get(key)
        : type === 'hash' ? await redis.hGetAll(key)
        : type === 'list' ? await redis.lRange(key, 0, -1)
        : type === 'set' ? (await redis.sMembers(key)).sort()
        : type === 'zset' ? await redis.zRangeWithScores(key, 0, -1)
        : type;
      state.set(key, JSON.stringify([type, value]));
    }
  }
  return state;
}

/** Keys added, removed or changed between two states. */
function redisChanges(before: Map<string, string>, after: Map<string, string>): string[] {
  const keys = new Set([...before.keys(), ...after.keys()]);
  return [...keys].filter((key) => before.get(key) !== after.get(key)).map((key) => `${key}: ${before.get(key) ?? '(none)'} → ${after.get(key) ?? '(none)'}`);
}

/** Whether Temporal holds any run of the workflow (describe, not the lagging visibility index). */
async function inTemporal(stack: LedgerStack, workflowId: string): Promise<string | null> {
  try {
    const { status, runId } = await stack.temporal.workflow.getHandle(workflowId).describe();
    return `${workflowId}: ${status.name} run ${runId}`;
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return null;
    throw error;
  }
}

interface Answer {
  status: number;
  /** The tRPC error code, or OK. */
  code: string;
}

/** Reads a subscription's first server-sent event: its data, or the error it carries. */
async function firstEvent(response: Response): Promise<Answer> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return { status: response.status, code: 'CLOSED' };
      buffer += value;
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: ?(.*)$/m.exec(block)?.[1];
        const data = /^data: ?(.*)$/m.exec(block)?.[1];
        if (event === 'serialized-error') {
          const shape = JSON.parse(data!) as { data: { code: string; httpStatus: number } };
          return { status: shape.data.httpStatus, code: shape.data.code };
        }
        if (data !== undefined && event !== 'connected' && event !== 'ping') return { status: response.status, code: 'OK' };
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

/**
 * Calls a procedure as a browser or any HTTP client would, with `input` (when absent: `{}` for a
 * mutation, which validation refuses, and no input for a query or subscription). A subscription
 * answers 200 and sends its refusal as the stream's first event (how tRPC's httpSubscriptionLink
 * reads it); its status here is the one that event names.
 */
async function callProcedure(
  base: string,
  path: string,
  type: ProcedureType,
  headers: Record<string, string> = {},
  query = '',
  input?: unknown,
): Promise<Answer> {
  const inputParam = input === undefined || type === 'mutation' ? '' : `${query ? '&' : '?'}input=${encodeURIComponent(JSON.stringify(input))}`;
  const url = `${base}/trpc/${path}${query}${inputParam}`;
  if (type === 'subscription') {
    const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers } });
    return firstEvent(response);
  }
  const response = await fetch(
    url,
    type === 'mutation' ? { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(input ?? {}) } : { headers },
  );
  const body = (await response.json()) as { error?: { data: { code: string } } };
  return { status: response.status, code: body.error?.data.code ?? 'OK' };
}

const bearer = (token: string | undefined): Record<string, string> => (token === undefined ? {} : { authorization: `Bearer ${token}` });

describe('roles and tokens (API_TOKENS with admin, client and metrics tokens)', { timeout: 240_000 }, () => {
  let stack: LedgerStack;
  let api: string;
  before(async () => {
    stack = await startLedgerStack({
      env: {
        API_TOKENS: `admin:${tokens.admin},client:${tokens.client},metrics:${tokens.metrics}`,
        API_HOST: '127.0.0.1',
        API_CORS_ORIGINS: appOrigin,
      },
    });
    api = stack.api!.url;
  });
  after(async () => {
    await stack?.stop();
  });

  it('enumerates the router: commands, queries and subscriptions of every aggregate, and the system procedures', () => {
    const types = new Set(procedures.map((p) => p.type));
    assert.deepEqual([...types].sort(), ['mutation', 'query', 'subscription']);
    for (const path of ['account.deposit', 'account.get', 'account.onChange', 'account.byHolder', 'holder.register', 'system.health', 'system.projections', 'system.parked', 'system.redrive', 'system.rebuild']) {
      assert.ok(procedures.some((p) => p.path === path), path);
    }
  });

  it('refuses every procedure, called with a valid input, a missing or wrong token (401) and a role that falls short (403), and changes nothing', async (t) => {
    // Documents for the queries and subscriptions to read: a subscription let through streams one at once.
    const admin = createLedgerflowClient<LedgerRouter>({ url: api, token: tokens.admin });
    const existing: Existing = { accountId: uniqueId('account'), holderId: uniqueId('holder') };
    await admin.holder.register.mutate({ holderId: existing.holderId, name: 'Ada', wait: 'projected' });
    await admin.account.deposit.mutate({ accountId: existing.accountId, entryId: 'book', amount: 3, wait: 'projected' });
    await admin.account.assign.mutate({ accountId: existing.accountId, holderId: existing.holderId, wait: 'projected' });

    const inputs = validInputs(uniqueId('sweep'), existing);
    // Each input is one the procedure's own schema accepts: only authorization stands in the way.
    const unknown: string[] = [];
    for (const { path, inputs: schemas } of procedures) {
      const input = inputs[path];
      if (schemas.length === 0) {
        if (input !== undefined) unknown.push(`${path} takes no input`);
        continue;
      }
      if (input === undefined) unknown.push(`${path}: no valid input in the table`);
      else for (const schema of schemas) if (!schema.safeParse(input).success) unknown.push(`${path}: ${JSON.stringify(input)} is refused by its schema`);
    }
    assert.deepEqual(unknown, []);
    const addressed = procedures.map(({ path, type }) => workflowOf(path, type, inputs[path])).filter((id): id is string => id !== null);
    assert.equal(addressed.length, procedures.filter((p) => p.type === 'mutation' && !p.path.startsWith('system.')).length, 'every command addresses a workflow');
    for (const workflowId of addressed) assert.equal(await inTemporal(stack, workflowId), null, `${workflowId} is unused before the sweep`);

    // With the projector stopped, what a call would have asked of it (a rebuild, a re-drive) stays in Redis to be seen.
    const accounts = projectionKeys(stack.config.REDIS_PREFIX, 'accounts');
    await stack.projector!.stop();
    try {
      const redisBefore = await redisState(stack.redis, stack.config.REDIS_PREFIX);
      const refusals: string[] = [];
      let refused = 0;
      for (const { path, type } of procedures) {
        const access = needs(path);
        const cases: [string, Record<string, string>, number | 'allowed'][] = [
          ['no token', {}, access === 'public' ? 'allowed' : 401],
          ['a wrong token', bearer('not-a-token'), access === 'public' ? 'allowed' : 401],
          ['a token in another scheme', { authorization: `Basic ${tokens.admin}` }, access === 'public' ? 'allowed' : 401],
          ...roles.map((role): [string, Record<string, string>, number | 'allowed'] => [`a ${role} token`, bearer(tokens[role]), mayReach[access].includes(role) ? 'allowed' : 403]),
        ];
        for (const [label, headers, expected] of cases) {
          if (expected === 'allowed') {
            // Allowed through, but with `{}` (or no input) validation stops it: the sweep changes nothing.
            const answer = await callProcedure(api, path, type, headers);
            if (answer.code === 'UNAUTHORIZED' || answer.code === 'FORBIDDEN') refusals.push(`${type} ${path} (${access}) with ${label}: expected to pass, got ${answer.status} ${answer.code}`);
            continue;
          }
          const answer = await callProcedure(api, path, type, headers, '', inputs[path]);
          const code = expected === 401 ? 'UNAUTHORIZED' : 'FORBIDDEN';
          if (answer.status === expected && answer.code === code) refused += 1;
          else refusals.push(`${type} ${path} (${access}) with ${label} and a valid input: expected ${expected} ${code}, got ${answer.status} ${answer.code}`);
        }
      }
      // Nothing reached Temporal (no run of any workflow a refused command addressed) and nothing changed in Redis.
      const reachedTemporal = (await Promise.all(addressed.map((workflowId) => inTemporal(stack, workflowId)))).filter((found) => found !== null);
      const changedInRedis = redisChanges(redisBefore, await redisState(stack.redis, stack.config.REDIS_PREFIX));
      t.diagnostic(`${refused} calls with valid inputs refused; ${addressed.length} addressed workflows looked up; ${redisBefore.size} Redis keys compared`);
      assert.deepEqual({ refusals, reachedTemporal, changedInRedis }, { refusals: [], reachedTemporal: [], changedInRedis: [] });

      // The same inputs with a token allowed to send them do get through: the checks above would have seen a leak.
      const passed: string[] = [];
      for (const { path, type } of procedures.filter((p) => p.type === 'mutation')) {
        const answer = await callProcedure(api, path, type, bearer(needs(path) === 'admin' ? tokens.admin : tokens.client), '', inputs[path]);
        if (['UNAUTHORIZED', 'FORBIDDEN', 'BAD_REQUEST', 'INTERNAL_SERVER_ERROR'].includes(answer.code)) passed.push(`${path}: ${answer.status} ${answer.code}`);
      }
      assert.deepEqual(passed, [], 'allowed commands with the same inputs pass authorization and validation');
      const started = (await Promise.all(addressed.map((workflowId) => inTemporal(stack, workflowId)))).filter((found) => found !== null);
      assert.equal(started.length, addressed.length, 'each allowed command started its workflow');
      const afterControl = await redisState(stack.redis, stack.config.REDIS_PREFIX);
      const changedKeys = [...new Set([...redisBefore.keys(), ...afterControl.keys()])].filter((key) => redisBefore.get(key) !== afterControl.get(key));
      assert.deepEqual(changedKeys.sort(), [accounts.rebuildRequested, accounts.redriveRequested].sort(), 'the allowed rebuild and re-drive left their requests');
    } finally {
      // The requests the control left are withdrawn: this stack's projector carries on as it was.
      await stack.redis.del([accounts.rebuildRequested, accounts.redriveRequested]);
      stack.startProjector();
    }
  });

  it('refuses /metrics a missing, wrong or client token; serves /health and /console to anyone', async () => {
    const failures: string[] = [];
    for (const [path, access] of endpoints) {
      const cases: [string, Record<string, string>, number][] = [
        ['no token', {}, access === 'public' ? 200 : 401],
        ['a wrong token', bearer('not-a-token'), access === 'public' ? 200 : 401],
        ...roles.map((role): [string, Record<string, string>, number] => [`a ${role} token`, bearer(tokens[role]), mayReach[access].includes(role) ? 200 : 403]),
      ];
      for (const [label, headers, expected] of cases) {
        const response = await fetch(`${api}${path}`, { headers });
        await response.arrayBuffer();
        if (response.status !== expected) failures.push(`${path} with ${label}: expected ${expected}, got ${response.status}`);
        if (response.status === 401 && response.headers.get('www-authenticate') !== 'Bearer') failures.push(`${path} with ${label}: no WWW-Authenticate`);
      }
    }
    assert.deepEqual(failures, []);
    const refused = (await (await fetch(`${api}/metrics`, { headers: bearer(tokens.client) })).json()) as { error: { data: { code: string } } };
    assert.equal(refused.error.data.code, 'FORBIDDEN');
    assert.match(await (await fetch(`${api}/metrics`, { headers: bearer(tokens.metrics) })).text(), /ledgerflow_api_requests_total/);
    const posted = await fetch(`${api}/console`, { method: 'POST' });
    assert.equal(posted.status, 405, 'the console is GET only');
    assert.equal(posted.headers.get('allow'), 'GET, HEAD');
  });

  it('accepts a subscription token in connectionParams (what httpSubscriptionLink sends), and only for subscriptions', async () => {
    const params = (token: unknown) => `?connectionParams=${encodeURIComponent(JSON.stringify({ token }))}`;
    const subscribe = (token: unknown) => callProcedure(api, 'account.onChange', 'subscription', {}, params(token));
    assert.deepEqual(await subscribe('not-a-token'), { status: 401, code: 'UNAUTHORIZED' });
    // A malformed path (an escape that does not decode) is the caller's error, not the server's.
    const malformed = await fetch(`${api}/trpc/account.onChange%E0%A4%A${params(tokens.client)}`);
    assert.ok(malformed.status >= 400 && malformed.status < 500, `a malformed path answered ${malformed.status}`);
    // A token that is not a string is no token (once a 500).
    // Refused before the stream opens: a plain 401 with tRPC's error body.
    for (const token of [5, { token: tokens.client }, [tokens.client], true]) {
      const response = await fetch(`${api}/trpc/account.onChange${params(token)}`, { headers: { accept: 'text/event-stream' } });
      const body = (await response.json()) as { error?: { data?: { code?: string } } };
      assert.deepEqual({ status: response.status, code: body.error?.data?.code }, { status: 401, code: 'UNAUTHORIZED' }, JSON.stringify(token));
    }
    assert.deepEqual(await subscribe(tokens.metrics), { status: 403, code: 'FORBIDDEN' });
    // Past authorization: the empty input is what is refused now.
    assert.deepEqual(await subscribe(tokens.client), { status: 400, code: 'BAD_REQUEST' });

    // A live stream with the token in connectionParams: the account as it changes.
    const accountId = uniqueId('params');
    const input = `&input=${encodeURIComponent(JSON.stringify({ accountId }))}`;
    const stream = fetch(`${api}/trpc/account.onChange${params(tokens.client)}${input}`, { headers: { accept: 'text/event-stream' } });
    const first = await firstEventWithin(stream, async () => {
      const response = await fetch(`${api}/trpc/account.deposit`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...bearer(tokens.client) },
        body: JSON.stringify({ accountId, entryId: 'a', amount: 1 }),
      });
      assert.equal(response.status, 200);
    });
    assert.equal(first.code, 'OK');

    // Through tRPC's own httpSubscriptionLink (the client helper sets connectionParams: { token }).
    const viaLink = (token: string) =>
      new Promise<{ data?: { accountId: string }; code?: string }>((resolve) => {
        const subscription = createLedgerflowClient<LedgerRouter>({ url: api, token }).account.onChange.subscribe(
          { accountId },
          {
            onData: ({ data }) => (subscription.unsubscribe(), resolve({ data })),
            onError: (error) => (subscription.unsubscribe(), resolve({ code: error.data?.code })),
          },
        );
      });
    assert.equal((await viaLink(tokens.client)).data?.accountId, accountId);
    assert.equal((await viaLink(tokens.metrics)).code, 'FORBIDDEN');
    assert.equal((await viaLink('not-a-token')).code, 'UNAUTHORIZED');

    // Queries and mutations take the token from the Authorization header only: no tokens in URLs.
    for (const { path, type } of procedures.filter((p) => p.type !== 'subscription' && needs(p.path) !== 'public')) {
      const answer = await callProcedure(api, path, type, {}, params(tokens.admin));
      assert.equal(answer.code, 'UNAUTHORIZED', `${path} with the token in connectionParams`);
    }
  });

  it('answers CORS preflights for allowed origins only, without credentials', async () => {
    const preflight = (origin: string) =>
      fetch(`${api}/trpc/account.deposit`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type, x-correlation-id' },
      });
    const allowed = await preflight(appOrigin);
    assert.equal(allowed.status, 204);
    assert.equal(allowed.headers.get('access-control-allow-origin'), appOrigin);
    assert.match(allowed.headers.get('access-control-allow-methods') ?? '', /POST/);
    for (const header of ['authorization', 'content-type', 'x-correlation-id', 'trpc-accept']) {
      assert.ok((allowed.headers.get('access-control-allow-headers') ?? '').split(/,\s*/).includes(header), header);
    }
    assert.equal(allowed.headers.get('access-control-allow-credentials'), null, 'tokens, not cookies');
    assert.match(allowed.headers.get('vary') ?? '', /Origin/);

    // An origin not listed is refused, with the reason, and no Access-Control-Allow-Origin: the browser refuses the call.
    const other = await preflight('https://evil.example.com');
    assert.equal(other.status, 403);
    assert.equal(other.headers.get('access-control-allow-origin'), null);
    assert.match(other.headers.get('vary') ?? '', /Origin/);
    assert.deepEqual(await other.json(), { error: 'origin https://evil.example.com is not in API_CORS_ORIGINS' });

    // The actual calls: the allowed origin may read the answer (a refusal included), another may not.
    const fromApp = await fetch(`${api}/trpc/system.projections`, { headers: { origin: appOrigin, ...bearer(tokens.client) } });
    assert.equal(fromApp.status, 403);
    assert.equal(fromApp.headers.get('access-control-allow-origin'), appOrigin);
    const fromOther = await fetch(`${api}/trpc/system.projections`, { headers: { origin: 'https://evil.example.com', ...bearer(tokens.admin) } });
    assert.equal(fromOther.headers.get('access-control-allow-origin'), null);
    const sse = await fetch(`${api}/trpc/account.onChange?input=${encodeURIComponent(JSON.stringify({ accountId: 'x' }))}`, {
      headers: { origin: appOrigin, accept: 'text/event-stream', ...bearer(tokens.client) },
    });
    assert.equal(sse.headers.get('access-control-allow-origin'), appOrigin, 'subscriptions too');
    await sse.body?.cancel();
  });

  it('without API_TOKENS: open to every call, loopback only, and no CORS unless configured', async () => {
    const log = createLogger('test', 'silent');
    await assert.rejects(
      startApiServer(stack.app.config, { ...stack.config, API_TOKENS: [], API_HOST: '0.0.0.0', API_PORT: 0 }, log),
      /needs API_TOKENS/,
    );
    const open = await startApiServer(stack.app.config, { ...stack.config, API_TOKENS: [], API_HOST: undefined, API_PORT: 0, API_CORS_ORIGINS: [] }, log);
    try {
      assert.match(open.url, /^http:\/\/127\.0\.0\.1:/);
      assert.equal((open.server.address() as { address: string }).address, '127.0.0.1');
      for (const { path, type } of procedures) {
        const answer = await callProcedure(open.url, path, type);
        assert.ok(answer.code !== 'UNAUTHORIZED' && answer.code !== 'FORBIDDEN', `${path}: ${answer.code}`);
      }
      assert.equal((await fetch(`${open.url}/metrics`)).status, 200);
      const preflight = await fetch(`${open.url}/trpc/account.deposit`, { method: 'OPTIONS', headers: { origin: appOrigin, 'access-control-request-method': 'POST' } });
      assert.equal(preflight.status, 403, 'no origin is allowed by default');
      assert.match(((await preflight.json()) as { error: string }).error, /API_CORS_ORIGINS is unset/);
      const bare = await fetch(`${open.url}/trpc/account.deposit`, { method: 'OPTIONS' });
      assert.equal(bare.status, 204, 'an OPTIONS naming no origin is told what the API allows');
      assert.equal(bare.headers.get('allow'), 'GET, POST, OPTIONS');
      assert.equal(preflight.headers.get('access-control-allow-origin'), null);
      assert.equal(preflight.headers.get('access-control-allow-methods'), null);
    } finally {
      await open.close(1000);
    }
  });
});

/** Opens a stream, does `act` once it is connected, and returns its first data (or error) event. */
async function firstEventWithin(stream: Promise<Response>, act: () => Promise<void>): Promise<Answer> {
  const response = await stream;
  assert.equal(response.status, 200);
  const event = firstEvent(response);
  await act();
  return event;
}
