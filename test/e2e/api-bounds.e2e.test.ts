/**
 * The API's own bounds, over HTTP as a client meets them: live subscriptions capped per caller
 * and in all (with heartbeats and an idle end), a rate limit per caller shared by API
 * processes through Redis, a cap on a batch's size, a cached health report, and a deadline
 * on every Redis call (a paused Redis). Each API here runs against a redis-server of the
 * test's own (paused, stopped) and no Temporal at all: none of this needs one.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startApiServer, type ApiServer } from '../../api/server';
import { loadConfig } from '../../core/config';
import { createLogger } from '../../infra/logger';
import { closeRedis, createRedis } from '../../infra/redis';
import ledger from '../support/domains/ledger.config';
import { ownRedis, type OwnRedis } from '../support/redis-server';
import { eventually, freePort, isolatedNames, uniqueId } from '../support/stack';

type ErrorData = { code: string; httpStatus: number; domainCode: string | null; retryable: boolean };
type Answer = { status: number; retryAfter: string | null; error?: { message: string; data: ErrorData } };

const tokens = { alice: 'alice-client-token', bob: 'bob-client-token' };

async function startApi(redis: OwnRedis, env: Record<string, string> = {}, names = isolatedNames(uniqueId('bounds'))): Promise<ApiServer> {
  const config = loadConfig({
    ...names,
    REDIS_URL: redis.url,
    // Nothing listens there: these bounds need no Temporal.
    TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`,
    API_PORT: '0',
    API_HOST: '127.0.0.1',
    API_TOKENS: `client:${tokens.alice},client:${tokens.bob}`,
    LOG_LEVEL: 'silent',
    ...env,
  });
  return startApiServer(ledger, config, createLogger('api-bounds', 'silent'));
}

const inputOf = (value: unknown) => encodeURIComponent(JSON.stringify(value));

async function call(api: ApiServer, path: string, input: unknown, token?: string): Promise<Answer> {
  const response = await fetch(`${api.url}/trpc/${path}?input=${inputOf(input)}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const body = (await response.json()) as { error?: Answer['error'] };
  return { status: response.status, retryAfter: response.headers.get('retry-after'), error: body.error };
}

/** `n` calls of system.health in one batch (GET, as tRPC's httpBatchLink sends queries). */
async function healthBatch(api: ApiServer, n: number): Promise<Answer> {
  const paths = Array.from({ length: n }, () => 'system.health').join(',');
  const input = Object.fromEntries(Array.from({ length: n }, (_, i) => [i, null]));
  const response = await fetch(`${api.url}/trpc/${paths}?batch=1&input=${inputOf(input)}`);
  const body = (await response.json()) as { error?: Answer['error'] } | unknown[];
  return { status: response.status, retryAfter: response.headers.get('retry-after'), error: Array.isArray(body) ? undefined : body.error };
}

/** A live subscription as a browser's EventSource opens it (token in connectionParams); its text as it arrives. */
interface Stream {
  status: number;
  retryAfter: string | null;
  refusal?: Answer['error'];
  /** Everything received so far. */
  text(): string;
  /** Resolves once the server ended the stream. */
  ended: Promise<void>;
  close(): void;
}

async function subscribe(api: ApiServer, accountId: string, token: string, lastEventId?: string): Promise<Stream> {
  const abort = new AbortController();
  const url = `${api.url}/trpc/account.onChange?input=${inputOf({ accountId })}&connectionParams=${inputOf({ token })}`;
  const response = await fetch(url, { headers: { accept: 'text/event-stream', ...(lastEventId ? { 'last-event-id': lastEventId } : {}) }, signal: abort.signal });
  let received = '';
  const base = { status: response.status, retryAfter: response.headers.get('retry-after'), text: () => received, close: () => abort.abort() };
  if (response.status !== 200) {
    const body = (await response.json()) as { error: Answer['error'] };
    return { ...base, refusal: body.error, ended: Promise.resolve() };
  }
  const ended = (async () => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of response.body!) received += decoder.decode(chunk as Uint8Array, { stream: true });
    } catch {
      // closed by the test
    }
  })();
  await eventually(async () => (received.includes('event: connected') ? true : undefined), 20_000, 'the stream is open');
  return { ...base, ended };
}

describe('API bounds (a redis-server of the test’s own, no Temporal)', { timeout: 240_000 }, () => {
  let redis: OwnRedis;
  before(async () => {
    redis = await ownRedis();
  });
  after(async () => {
    await redis?.stop();
  });

  describe('live subscriptions', () => {
    let api: ApiServer;
    const open: Stream[] = [];
    before(async () => {
      api = await startApi(redis, { API_SUBSCRIPTIONS_PER_CALLER: '2', API_SUBSCRIPTIONS_TOTAL: '3', API_SUBSCRIPTION_IDLE_MS: '12000' });
      // The API connects to Redis in the background: a subscription opened before that ends at
      // once with a retryable 503 (and gives its slot back), which is not what these tests count.
      await eventually(async () => ((await call(api, 'account.get', { accountId: 'nobody' }, tokens.bob)).status === 404 ? true : undefined), 20_000, 'Redis reachable');
    });
    after(async () => {
      for (const stream of open) stream.close();
      await api?.close(1000);
    });

    it('holds at most API_SUBSCRIPTIONS_PER_CALLER per caller and API_SUBSCRIPTIONS_TOTAL in all; the next is refused 429 SUBSCRIPTION_LIMIT, retryable', async () => {
      const accountId = uniqueId('sub');
      for (let i = 0; i < 2; i++) open.push(await subscribe(api, accountId, tokens.alice));
      assert.deepEqual(open.map((s) => s.status), [200, 200]);

      const third = await subscribe(api, accountId, tokens.alice);
      assert.equal(third.status, 429);
      assert.equal(third.refusal?.data.code, 'TOO_MANY_REQUESTS');
      assert.equal(third.refusal?.data.domainCode, 'SUBSCRIPTION_LIMIT');
      assert.equal(third.refusal?.data.retryable, true);
      assert.match(third.refusal!.message, /API_SUBSCRIPTIONS_PER_CALLER/);
      assert.ok(Number(third.retryAfter) > 0, 'Retry-After');

      // Another caller still has room, up to the process's total.
      const bobs = await subscribe(api, accountId, tokens.bob);
      open.push(bobs);
      assert.equal(bobs.status, 200);
      const overTotal = await subscribe(api, accountId, tokens.bob);
      assert.equal(overTotal.status, 429);
      assert.equal(overTotal.refusal?.data.domainCode, 'SUBSCRIPTION_LIMIT');
      assert.match(overTotal.refusal!.message, /API_SUBSCRIPTIONS_TOTAL/);

      // A closed subscription gives its slot back.
      open.shift()!.close();
      const again = await eventually(async () => {
        const stream = await subscribe(api, accountId, tokens.alice);
        return stream.status === 200 ? stream : undefined;
      }, 20_000, 'a slot is free again');
      open.push(again);
    });

    it('sends heartbeats on an idle stream, and ends it after API_SUBSCRIPTION_IDLE_MS without an event so that its client reconnects', async () => {
      for (const stream of open.splice(0)) stream.close();
      const accountId = uniqueId('idle');
      const stream = await eventually(async () => {
        const opened = await subscribe(api, accountId, tokens.bob);
        return opened.status === 200 ? opened : undefined;
      }, 20_000, 'a slot');
      open.push(stream);
      // tRPC's ping, every 10 s: a proxy keeps the stream open, the client knows it is alive.
      await eventually(async () => (stream.text().includes('event: ping') ? true : undefined), 60_000, 'a heartbeat on the wire');
      await Promise.race([stream.ended, new Promise((_, reject) => setTimeout(() => reject(new Error('the idle stream was not ended')), 60_000).unref())]);
      // Ended without tRPC's `return` event (which would tell the client it is over): an EventSource reconnects by itself.
      assert.doesNotMatch(stream.text(), /event: return/);
      assert.doesNotMatch(stream.text(), /serialized-error/);
      // It reconnects with the last id it saw, and is served.
      const resumed = await subscribe(api, accountId, tokens.bob, '3');
      open.push(resumed);
      assert.equal(resumed.status, 200);
    });
  });

  describe('rate limit and batches', () => {
    const names = isolatedNames(uniqueId('rate'));
    const limits = { API_RATE_LIMIT: '6', API_RATE_LIMIT_WINDOW_S: '300', API_MAX_BATCH: '4' };
    let api: ApiServer;
    let other: ApiServer;
    before(async () => {
      api = await startApi(redis, limits, names);
      other = await startApi(redis, limits, names);
    });
    after(async () => {
      await Promise.all([api?.close(1000), other?.close(1000)]);
    });

    it('refuses a batch over API_MAX_BATCH with 400 BATCH_TOO_LARGE before any of it runs', async () => {
      const answer = await healthBatch(api, 5);
      assert.equal(answer.status, 400);
      assert.equal(answer.error?.data.domainCode, 'BATCH_TOO_LARGE');
      assert.equal(answer.error?.data.retryable, false);
    });

    it('counts every call of a batch against the caller, across API processes, then refuses 429 RATE_LIMITED with Retry-After', async () => {
      // The refused batch above spent nothing: 6 calls are left for this address.
      assert.equal((await healthBatch(api, 4)).error?.data.domainCode, undefined, 'a batch of 4 (4 of 6)');
      assert.notEqual((await call(other, 'system.health', null)).status, 429, 'the 5th call, on the other API process');
      assert.notEqual((await call(api, 'system.health', null)).status, 429, 'the 6th call');
      const refused = await call(other, 'system.health', null);
      assert.equal(refused.status, 429);
      assert.equal(refused.error?.data.code, 'TOO_MANY_REQUESTS');
      assert.equal(refused.error?.data.domainCode, 'RATE_LIMITED');
      assert.equal(refused.error?.data.retryable, true);
      assert.ok(Number(refused.retryAfter) > 0 && Number(refused.retryAfter) <= 300, `Retry-After ${refused.retryAfter}`);
      // A refused command is named, so that its sender resends it with the same id: nothing was sent.
      const command = await fetch(`${api.url}/trpc/account.deposit`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ accountId: 'acc-1', entryId: 'e1', amount: 1, commandId: 'rate-limited-1' }),
      });
      assert.equal(command.status, 429);
      assert.deepEqual(((await command.json()) as { error: Answer['error'] & { data: { commandId: string } } }).error.data.commandId, 'rate-limited-1');
      // A known token has a budget of its own; an unknown one counts as its address.
      assert.notEqual((await call(api, 'account.get', { accountId: 'nobody' }, tokens.alice)).status, 429);
      assert.equal((await call(api, 'account.get', { accountId: 'nobody' }, 'made-up-token')).status, 429);
    });

    it('with Redis away, each API process counts in its own memory: calls are answered, and a flood is still refused', async () => {
      await redis.stop();
      try {
        const answers = [];
        for (let i = 0; i < 8; i++) answers.push((await call(api, 'account.get', { accountId: 'nobody' }, tokens.bob)).status);
        // Six allowed by the local count (503: the read itself needs Redis), then refused.
        assert.deepEqual(answers.slice(0, 6).filter((status) => status === 429), [], `answers ${answers.join(',')}`);
        assert.deepEqual(answers.slice(6), [429, 429], `answers ${answers.join(',')}`);
        assert.ok(answers.slice(0, 6).every((status) => status === 503), `the reads answer Redis away: ${answers.join(',')}`);
      } finally {
        await redis.start();
      }
    });
  });

  describe('a paused Redis', () => {
    let api: ApiServer;
    before(async () => {
      api = await startApi(redis, { API_REDIS_TIMEOUT_MS: '500' });
      await eventually(async () => ((await call(api, 'account.get', { accountId: 'nobody' }, tokens.alice)).status === 404 ? true : undefined), 20_000, 'Redis reachable');
    });
    after(async () => {
      redis.resume();
      await api?.close(1000);
    });

    it('answers reads 503 REDIS_TIMEOUT within the timeout, stays alive, and answers again once Redis resumes', async () => {
      redis.pause();
      try {
        const started = performance.now();
        const reads = await Promise.all(Array.from({ length: 20 }, () => call(api, 'account.get', { accountId: 'nobody' }, tokens.alice)));
        const tookMs = performance.now() - started;
        for (const read of reads) {
          assert.equal(read.status, 503);
          assert.equal(read.error?.data.domainCode, 'REDIS_TIMEOUT');
          assert.equal(read.error?.data.retryable, true);
        }
        // REDIS_TIMEOUT comes only from the deadline (500 ms, after the limiter's own call may
        // have waited as long): without it these reads would wait until Redis resumes. The bound
        // here is generous, for a busy machine.
        assert.ok(tookMs < 20_000, `answered in ${Math.round(tookMs)} ms`);
        const health = await fetch(`${api.url}/health`);
        assert.equal(health.status, 503, 'health answers, and says Redis is away');
      } finally {
        redis.resume();
      }
      await eventually(async () => ((await call(api, 'account.get', { accountId: 'nobody' }, tokens.alice)).status === 404 ? true : undefined), 20_000, 'answers again');
    });

    it('answers a flood of public health checks from one report a second, not a Redis round trip each', async () => {
      const admin = createRedis(redis.url, 'api-bounds-admin');
      await admin.connect();
      try {
        const pings = async () => Number(/cmdstat_ping:calls=(\d+)/.exec(await admin.info('commandstats'))?.[1] ?? 0);
        const before = await pings();
        const started = performance.now();
        for (let i = 0; i < 40; i++) await healthBatch(api, 2);
        const seconds = (performance.now() - started) / 1000;
        const probes = (await pings()) - before;
        assert.ok(probes <= Math.ceil(seconds) + 1, `${probes} pings for 80 checks in ${seconds.toFixed(1)} s`);
      } finally {
        await closeRedis(admin);
      }
    });
  });
});
