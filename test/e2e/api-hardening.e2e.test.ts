import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startApiServer } from '../../api/server';
import { createLogger } from '../../infra/logger';
import { eventually, openAccountStream, startLedgerStack, uniqueId, type LedgerStack } from '../support/stack';

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

  it('on close(): refuses a call that arrives meanwhile 503 retryable naming its commandId, and ends live subscriptions', async () => {
    const api = await startApiServer(stack.app.config, { ...stack.config, API_PORT: 0 }, createLogger('draining', 'silent'));
    let closing: Promise<void> | undefined;
    try {
      const { response: stream, ended: streamEnded } = await openAccountStream(api.url, uniqueId('drain'));
      assert.match(stream.headers.get('content-type') ?? '', /text\/event-stream/);
      // A command whose headers arrived before close() and whose body arrives after it.
      const socket = connect(Number(new URL(api.url).port), '127.0.0.1');
      await new Promise((resolve) => socket.once('connect', resolve));
      let answer = '';
      socket.on('data', (data: Buffer) => (answer += data.toString()));
      const socketClosed = new Promise((resolve) => socket.once('close', resolve));
      const received = new Promise((resolve) => api.server.on('request', (req: { method?: string }) => req.method === 'POST' && resolve(undefined)));
      const commandId = uniqueId('cmd');
      const body = JSON.stringify({ accountId: uniqueId('drain'), entryId: 'late', amount: 1, commandId });
      socket.write(`POST /trpc/account.deposit HTTP/1.1\r\nhost: api\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`);
      // Once the server has the request's headers: it is in flight.
      await received;
      closing = api.close();
      await streamEnded;
      socket.write(body);
      await socketClosed;
      const [head = '', json = ''] = answer.split('\r\n\r\n');
      assert.match(head, /^HTTP\/1\.1 503 /);
      assert.match(head, /\r\nconnection: close/i);
      const refused = JSON.parse(json) as { error: { data: { code: string; retryable: boolean; commandId: string } } };
      assert.deepEqual(
        [refused.error.data.code, refused.error.data.retryable, refused.error.data.commandId],
        ['SERVICE_UNAVAILABLE', true, commandId],
      );
      await eventually(async () => (await fetch(`${api.url}/health`).then(() => false, () => true)) || undefined, 30_000, 'the server stops listening');
    } finally {
      await (closing ?? api.close());
    }
  });
});
