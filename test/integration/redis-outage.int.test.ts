import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startApiServer, type ApiServer } from '../../api/server';
import { projectionsOf } from '../../core/app';
import { createLogger } from '../../infra/logger';
import { topologyOf } from '../../infra/rabbit';
import { closeRedis, createRedis } from '../../infra/redis';
import { startProjector } from '../../projectors/runtime';
import { ownRedis, type OwnRedis } from '../support/redis-server';
import ledger from '../support/domains/ledger.config';
import { eventually, startLedgerStack, uniqueId, type LedgerStack } from '../support/stack';

const projections = projectionsOf(ledger);

describe('the read side heals itself (a redis-server of the test’s own)', { timeout: 180_000 }, () => {
  let redisServer: OwnRedis;
  let stack: LedgerStack;
  before(async () => {
    redisServer = await ownRedis();
    stack = await startLedgerStack({ env: { REDIS_URL: redisServer.url } });
  });
  after(async () => {
    await stack?.stop();
    await redisServer?.stop();
  });

  const accountOf = (accountId: string, minVersion: number) =>
    eventually(
      () => stack.trpc.account.get.query({ accountId }).then((doc) => (doc.version >= minVersion ? doc : undefined), () => undefined),
      30_000,
      `${accountId} at version ${minVersion}`,
    );

  it('rebuilds every read model by itself after Redis loses all its data (FLUSHALL)', async () => {
    const accounts = [uniqueId('flush'), uniqueId('flush')];
    for (const accountId of accounts) {
      await stack.trpc.account.deposit.mutate({ accountId, entryId: 'a', amount: 2.2 });
      await stack.trpc.account.deposit.mutate({ accountId, entryId: 'b', amount: 0.2, wait: 'projected' });
    }
    const admin = createRedis(redisServer.url, 'test-admin');
    await admin.connect();
    try {
      await admin.flushAll();
      // The live projector may write its lease and status again at once; the read models and checkpoints are gone.
      const left = await admin.keys('*');
      assert.deepEqual(left.filter((key) => key.includes(':rm:') || key.endsWith(':checkpoint')), [], `left after FLUSHALL: ${left.join(', ')}`);
    } finally {
      await admin.quit(); // an open client would keep the test process alive past a failure
    }

    for (const accountId of accounts) {
      const doc = await accountOf(accountId, 2);
      assert.equal(doc.balance, 2.4);
      assert.deepEqual(doc.entries.map((e) => e.entryId), ['a', 'b']);
    }
    const status = await eventually(async () => {
      const s = (await stack.trpc.system.projections.query())[0]!;
      return s.state === 'live' && s.lagEvents === 0 ? s : undefined;
    }, 20_000, 'live again');
    assert.equal(status.parked, 0);
  });

  it('accepts commands while Redis is down, and projects them once it is back', async () => {
    const accountId = uniqueId('outage');
    await stack.trpc.account.deposit.mutate({ accountId, entryId: 'before', amount: 5, wait: 'projected' });

    await redisServer.stop();
    const during = [];
    for (let i = 0; i < 5; i++) during.push(await stack.trpc.account.deposit.mutate({ accountId, entryId: `during-${i}`, amount: 1 }));
    assert.deepEqual(during.map((r) => r.version), [2, 3, 4, 5, 6], 'decided by the aggregate with Redis down');
    // Reads answer that Redis is away (503, retryable), rather than hanging or a 500.
    const read = await fetch(`${stack.api!.url}/trpc/account.get?input=${encodeURIComponent(JSON.stringify({ accountId }))}`);
    assert.equal(read.status, 503);
    const body = (await read.json()) as { error: { message: string; data: { retryable: boolean } } };
    assert.match(body.error.message, /Redis is unavailable/);
    assert.equal(body.error.data.retryable, true);

    await new Promise((resolve) => setTimeout(resolve, 1500));
    await redisServer.start(); // empty: this server keeps nothing on disk

    const doc = await accountOf(accountId, 6);
    assert.equal(doc.entries.length, 6);
    assert.equal(doc.balance, 10);
  });
});

describe('an API started while Redis is down (a redis-server of the test’s own)', { timeout: 180_000 }, () => {
  let redisServer: OwnRedis;
  let stack: LedgerStack;
  let api: ApiServer | undefined;
  before(async () => {
    redisServer = await ownRedis();
    await redisServer.stop();
    // The stack's own clients use the machine's Redis; only this API and its projector use the one that is down.
    stack = await startLedgerStack({ api: false, projector: false });
    api = await startApiServer(stack.app.config, { ...stack.config, REDIS_URL: redisServer.url }, createLogger('test', 'silent'));
  });
  after(async () => {
    await api?.close(1000);
    await stack?.stop();
    await redisServer?.stop();
  });

  it('takes commands, answers /metrics (marked stale) and refuses reads with 503 until Redis is back', async () => {
    const url = api!.url;
    const post = (input: Record<string, unknown>) =>
      fetch(`${url}/trpc/account.deposit`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(input) }).then(async (r) => ({
        status: r.status,
        body: (await r.json()) as { result?: { data: { version: number } }; error?: { message: string; data: { commandId: string; retryable: boolean } } },
      }));
    const accountId = uniqueId('noredis');
    for (let i = 1; i <= 3; i++) {
      const answer = await post({ accountId, entryId: `i${i}`, amount: 1 });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.equal(answer.body.result?.data.version, i);
    }
    // Waiting for the read models needs Redis: the command was applied, the answer says how to retry safely.
    const projected = await post({ accountId, entryId: 'p', amount: 1, wait: 'projected', commandId: `${accountId}-p` });
    assert.equal(projected.status, 503);
    assert.equal(projected.body.error?.data.commandId, `${accountId}-p`);
    assert.equal(projected.body.error?.data.retryable, true);
    assert.match(projected.body.error!.message, new RegExp(`retry with the same commandId ${accountId}-p`));

    for (let scrape = 0; scrape < 3; scrape++) {
      const metrics = await fetch(`${url}/metrics`);
      assert.equal(metrics.status, 200);
      assert.match(await metrics.text(), /ledgerflow_projection_status_stale 1/);
    }
    const read = await fetch(`${url}/trpc/account.get?input=${encodeURIComponent(JSON.stringify({ accountId }))}`);
    assert.equal(read.status, 503);

    // Redis returns (empty); a projector fills it from the log; the same API reads again, and the retry applies nothing twice.
    await redisServer.start();
    const projectorRedis = await connected(redisServer.url);
    const projector = startProjector(
      { redis: projectorRedis, rabbit: stack.rabbit, topology: topologyOf(stack.config), prefix: stack.config.REDIS_PREFIX, log: createLogger('test', 'silent') },
      projections,
      { tickMs: 300, leaseMs: 2000 },
    );
    try {
      const retried = await eventually(async () => {
        const answer = await post({ accountId, entryId: 'p', amount: 1, wait: 'projected', commandId: `${accountId}-p` });
        return answer.status === 200 ? answer : undefined;
      }, 60_000, 'the retry answered once the read models caught up');
      assert.equal(retried.body.result?.data.version, 4, 'the retry answers the original version');
      const doc = await eventually(async () => {
        const r = await fetch(`${url}/trpc/account.get?input=${encodeURIComponent(JSON.stringify({ accountId }))}`);
        return r.status === 200 ? ((await r.json()) as { result: { data: { version: number; balance: number } } }).result.data : undefined;
      }, 30_000, 'readable again');
      assert.deepEqual([doc.version, doc.balance], [4, 4]);
      await eventually(async () => (/ledgerflow_projection_status_stale 0/.test(await (await fetch(`${url}/metrics`)).text()) ? true : undefined), 30_000, 'fresh metrics');
    } finally {
      await projector.stop();
      await closeRedis(projectorRedis);
    }
  });
});

async function connected(url: string) {
  const client = createRedis(url, 'test-projector');
  await client.connect();
  return client;
}
