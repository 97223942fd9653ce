import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { startLedgerStack, uniqueId, type LedgerStack } from '../support/stack';

/** Sends `total` bytes as a request body, `chunk` at a time, until the server answers or hangs up. */
function upload(url: string, total: number, options: { chunked?: boolean } = {}) {
  return new Promise<{ status: number | null; body: string; sent: number }>((resolve) => {
    const chunk = Buffer.alloc(1024 * 1024, 'x');
    let sent = 0;
    let status: number | null = null;
    let body = '';
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      resolve({ status, body, sent });
    };
    const req = request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(options.chunked ? {} : { 'content-length': String(total) }) },
    });
    req.on('response', (res) => {
      status = res.statusCode ?? null;
      res.on('data', (data: Buffer) => (body += data.toString()));
      res.on('end', finish);
      res.on('error', finish);
    });
    req.on('error', finish);
    req.on('close', () => setTimeout(finish, 100));
    const pump = () => {
      while (!done && status === null && sent < total) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      if (sent >= total) req.end();
    };
    pump();
  });
}

describe('the API under hostile requests', { timeout: 180_000 }, () => {
  let stack: LedgerStack;
  before(async () => {
    stack = await startLedgerStack({ worker: false, projector: false });
  });
  after(async () => {
    await stack?.stop();
  });

  it('answers a 300 MB body 413 PAYLOAD_TOO_LARGE without reading it, and keeps serving', async () => {
    const rssBefore = process.memoryUsage().rss;
    const answer = await upload(`${stack.api!.url}/trpc/account.deposit`, 300 * 1024 * 1024);
    assert.equal(answer.status, 413);
    assert.equal((JSON.parse(answer.body) as { error: { data: { code: string } } }).error.data.code, 'PAYLOAD_TOO_LARGE');
    assert.ok(answer.sent < 100 * 1024 * 1024, `the server hung up after ${answer.sent} bytes, not 300 MB`);
    const grown = process.memoryUsage().rss - rssBefore;
    assert.ok(grown < 100 * 1024 * 1024, `resident memory grew by ${Math.round(grown / 1e6)} MB`);
    const health = await fetch(`${stack.api!.url}/health`);
    assert.ok([200, 503].includes(health.status), 'still serving');
  });

  it('cuts off a body sent without a length once it passes the limit (413)', async () => {
    const answer = await upload(`${stack.api!.url}/trpc/account.deposit`, 8 * 1024 * 1024, { chunked: true });
    assert.equal(answer.status, 413);
  });

  it('counts requests to unknown paths under one label: the metrics do not grow with them', async () => {
    const lines = async () => (await (await fetch(`${stack.api!.url}/metrics`)).text()).split('\n').filter((l) => l.startsWith('ledgerflow_api_request')).length;
    const hit = (path: string) =>
      fetch(`${stack.api!.url}/trpc/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }).then((r) => r.body?.cancel());
    await hit(`warm-up-${uniqueId()}`);
    const before = await lines();
    for (let i = 0; i < 200; i++) await hit(`${uniqueId('random')}.${i}`);
    assert.equal(await lines(), before, 'the same series, only their values changed');
    const text = await (await fetch(`${stack.api!.url}/metrics`)).text();
    assert.match(text, /ledgerflow_api_requests_total\{path="unknown",code="NOT_FOUND"\} 201/);
    assert.doesNotMatch(text, /random-/);
  });
});
