import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { eventually } from '../support/stack';

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
    /** Waits until the server has printed `pattern` (a process that exits first fails at once). */
    const printed = (pattern: RegExp, label: string) =>
      eventually(async () => {
        const match = pattern.exec(output);
        if (!match && child!.exitCode !== null) assert.fail(`the server exited (${child!.exitCode}) before ${label}:\n${output}`);
        return match ?? undefined;
      }, 30_000, label).catch((error: unknown) => assert.fail(`${String(error)}\n${output}`));

    const port = Number((await printed(/listening (\d+)/, 'listening'))[1]);
    const get = (path: string) => fetch(`http://127.0.0.1:${port}${path}`).then((r) => r.text());

    assert.equal(await get('/reject'), 'rejected in the background');
    await printed(/unhandled rejection \(a bug\): logged, still serving/, 'the rejection logged');
    assert.match(output, /a stray rejection/, 'the error itself is logged, under err');
    assert.equal(await get('/'), 'ok', 'still serving after an unhandled rejection');

    const slow = get('/slow');
    await printed(/received \/slow/, 'the server received /slow');
    assert.equal(await get('/throw'), 'throwing in the background');
    assert.equal(await slow, 'slow done', 'the request in flight was finished');
    assert.equal(await exited, 1);
    assert.match(output, /uncaught exception \(a bug\)/);
    assert.match(output, /stopping with 1 request\(s\) in flight/, '/slow was still in flight when the stop began');
  });
});
