import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

describe('the process guard every entry point runs under', { timeout: 60_000 }, () => {
  let child: ChildProcess | undefined;
  after(() => {
    child?.kill('SIGKILL');
  });

  it('logs a stray rejection and keeps serving; on an uncaught exception finishes requests in flight, then exits 1', async () => {
    child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, '..', 'support', 'guarded-server.ts')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setInterval(() => {
        const match = /listening (\d+)/.exec(output);
        if (match) (clearInterval(timer), resolve(Number(match[1])));
        else if (child!.exitCode !== null) (clearInterval(timer), reject(new Error(output)));
      }, 50);
    });
    const get = (path: string) => fetch(`http://127.0.0.1:${port}${path}`).then((r) => r.text());

    assert.equal(await get('/reject'), 'rejected in the background');
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(await get('/'), 'ok', 'still serving after an unhandled rejection');
    assert.match(output, /unhandled rejection \(a bug\): logged, still serving/);
    assert.match(output, /a stray rejection/, 'the error itself is logged, under err');

    const slow = get('/slow');
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(await get('/throw'), 'throwing in the background');
    assert.equal(await slow, 'slow done', 'the request in flight was finished');
    assert.equal(await exited, 1);
    assert.match(output, /uncaught exception \(a bug\)/);
  });
});
