import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startApiServer, type ApiServer } from '../../api/server';
import { createAggregateWorker, type AggregateWorker } from '../../bin/worker';
import { createLogger } from '../../infra/logger';
import { versionQuery } from '../../workflows/definitions';
import type { AccountState } from '../support/domains/ledger/account';
import { freePort, startLedgerStack, uniqueId, type LedgerStack } from '../support/stack';
import { loadTestApp } from '../support/apps';

type ErrorBody = { error: { message: string; data: { code: string; httpStatus: number; domainCode: string | null; commandId: string | null; retryable: boolean } } };

const post = async (url: string, procedure: string, input: unknown) => {
  const response = await fetch(`${url}/trpc/${procedure}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(input) });
  return { status: response.status, body: (await response.json()) as ErrorBody & { result?: { data: { version: number } } } };
};

describe('what the API answers when something fails', { timeout: 180_000 }, () => {
  let stack: LedgerStack;
  let worker: AggregateWorker | undefined;
  before(async () => {
    stack = await startLedgerStack({ worker: false, projector: false });
    worker = await createAggregateWorker(await loadTestApp('buggy'), stack.config);
    void worker.run();
  });
  after(async () => {
    await worker?.shutdown();
    await stack?.stop();
  });

  it('answers a bug in decide with 500 DECIDE_FAILED naming the command, and changes nothing', async () => {
    const accountId = uniqueId('bug');
    assert.equal((await post(stack.api!.url, 'account.deposit', { accountId, entryId: 'fine', amount: 1 })).status, 200);
    const failed = await post(stack.api!.url, 'account.deposit', { accountId, entryId: 'bug', amount: 1, commandId: `${accountId}-bug` });
    assert.equal(failed.status, 500);
    assert.equal(failed.body.error.data.code, 'INTERNAL_SERVER_ERROR');
    assert.equal(failed.body.error.data.domainCode, 'DECIDE_FAILED');
    assert.equal(failed.body.error.data.commandId, `${accountId}-bug`);
    assert.match(failed.body.error.message, /TypeError/);
    const handle = stack.temporal.workflow.getHandle(`account:${accountId}`);
    assert.equal(await handle.query(versionQuery), 1, 'nothing changed');
    const state = (await handle.query('state')) as AccountState;
    assert.deepEqual(state, { status: 'open', balanceCents: 100, holderId: null }, 'only the first deposit');
    // The aggregate goes on: the next command is decided at the next version.
    const next = await post(stack.api!.url, 'account.deposit', { accountId, entryId: 'also-fine', amount: 1 });
    assert.equal(next.body.result?.data.version, 2);
  });

  describe('with Temporal unreachable', () => {
    let api: ApiServer;
    before(async () => {
      const nowhere = `127.0.0.1:${await freePort()}`;
      api = await startApiServer(stack.app.config, { ...stack.config, TEMPORAL_ADDRESS: nowhere }, createLogger('test', 'silent'));
    });
    after(async () => {
      await api?.close(1000);
    });

    it('starts anyway, and answers a command 503 TEMPORAL_UNAVAILABLE naming it, retryable', async () => {
      const accountId = uniqueId('away');
      const answer = await post(api.url, 'account.deposit', { accountId, entryId: 'a', amount: 1, commandId: `${accountId}-1` });
      assert.equal(answer.status, 503, JSON.stringify(answer.body));
      assert.equal(answer.body.error.data.code, 'SERVICE_UNAVAILABLE');
      assert.equal(answer.body.error.data.retryable, true);
      assert.equal(answer.body.error.data.domainCode, 'TEMPORAL_UNAVAILABLE');
      assert.equal(answer.body.error.data.commandId, `${accountId}-1`);
      const health = await fetch(`${api.url}/health`);
      assert.equal(health.status, 503);
      assert.equal(((await health.json()) as { checks: { temporal: { ok: boolean } } }).checks.temporal.ok, false);
    });
  });
});
