import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { envOf, eventually, freePort, startLedgerStack, uniqueId, type LedgerStack } from '../support/stack';
import { publishAccountFiller } from '../support/stream';
import { cliEntry as cli, runCli as run } from '../support/cli';

describe('the admin CLI (ledgerflow)', { timeout: 600_000 }, () => {
  let stack: LedgerStack;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    stack = await startLedgerStack();
    env = { ...envOf(stack.config, { LEDGERFLOW_CONFIG: stack.app.path }), LOG_LEVEL: 'silent' };
  });
  after(async () => {
    await stack?.stop();
  });

  it('answers --help on every command, exiting 0, before reading any configuration', async () => {
    const broken = { ...env, REDIS_URL: 'not a url' };
    const helps = await Promise.all(['status', 'parked', 'redrive', 'rebuild', 'send', 'setup'].map((command) => run(broken, command, '--help')));
    for (const [i, command] of ['status', 'parked', 'redrive', 'rebuild', 'send', 'setup'].entries()) {
      assert.equal(helps[i]!.code, 0, helps[i]!.err);
      assert.match(helps[i]!.out, new RegExp(`^usage: ledgerflow ${command}`));
      assert.match(helps[i]!.out, /--json/);
    }
    const overview = await run(broken, '--help');
    assert.equal(overview.code, 0);
    assert.match(overview.out, /usage: ledgerflow <command>[\s\S]*setup[\s\S]*exit codes: 0 done, 1 failed/);
  });

  it('shows status, parked events and asks for a re-drive, exiting 0', async () => {
    await stack.trpc.account.deposit.mutate({ accountId: uniqueId('cli'), entryId: 'a', amount: 1, wait: 'projected' });
    const status = await run(env, 'status');
    assert.equal(status.code, 0, status.err);
    assert.match(status.out, /^accounts {2}LIVE {2}generation \d+/m);
    assert.match(status.out, /checkpoint \d+ {2}tail \d+ {2}lag \d+ events/);
    const parked = await run(env, 'parked', 'accounts');
    assert.deepEqual([parked.code, parked.out.trim()], [0, 'no parked events']);
    const redrive = await run(env, 'redrive', 'accounts');
    assert.equal(redrive.code, 0);
    assert.match(redrive.out, /re-drive of 0 parked event\(s\) requested/);
  });

  it('prints the same as JSON with --json', async () => {
    const status = await run(env, 'status', '--json');
    assert.equal(status.code, 0, status.err);
    const statuses = JSON.parse(status.out) as { name: string; state: string; checkpoint: number | null }[];
    assert.deepEqual(statuses.map((s) => s.name).sort(), ['accounts', 'holders']);
    assert.equal(statuses.find((s) => s.name === 'accounts')?.state, 'live');
    const parked = await run(env, 'parked', 'accounts', '--limit', '10', '--json');
    assert.deepEqual([parked.code, JSON.parse(parked.out)], [0, []]);
    const redrive = await run(env, 'redrive', 'accounts', '--json');
    assert.deepEqual([redrive.code, JSON.parse(redrive.out)], [0, { projection: 'accounts', parked: 0 }]);
    const usage = await run(env, 'parked', '--json');
    assert.equal(usage.code, 2);
    assert.deepEqual(JSON.parse(usage.err), { error: 'parked needs <projection>', exitCode: 2 });
  });

  it('rebuilds a projection, showing its progress, and exits 0 once the new generation serves', async () => {
    const before = (await stack.trpc.system.projections.query()).find((s) => s.name === 'accounts')!;
    const rebuild = await run(env, 'rebuild', 'accounts');
    assert.equal(rebuild.code, 0, rebuild.err);
    assert.match(rebuild.out, new RegExp(`rebuilt: accounts now serves generation ${before.generation! + 1}`));
    assert.doesNotMatch(rebuild.out, /\r|█/, 'no progress bar when stdout is not a terminal');
    const json = await run(env, 'rebuild', 'accounts', '--json');
    assert.equal(json.code, 0, json.err);
    const done = JSON.parse(json.out) as { projection: string; generation: number; previousGeneration: number };
    assert.deepEqual([done.projection, done.generation, done.previousGeneration], ['accounts', before.generation! + 2, before.generation! + 1]);
  });

  it('exits 2 for usage errors, naming the problem, before connecting to anything', async () => {
    const nowhere = { ...env, REDIS_URL: 'redis://127.0.0.1:1', TEMPORAL_ADDRESS: '127.0.0.1:1' };
    const unknown = await run(nowhere, 'parked', 'nope');
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /no projection named 'nope' \(known: accounts, holders\)/);
    assert.match(unknown.err, /usage: ledgerflow parked <projection>/);
    const missing = await run(nowhere, 'rebuild');
    assert.equal(missing.code, 2);
    assert.match(missing.err, /rebuild needs <projection>/);
    const bogus = await run(nowhere, 'bogus');
    assert.equal(bogus.code, 2);
    assert.match(bogus.err, /unknown command 'bogus'[\s\S]*usage: ledgerflow <command>/);
    const option = await run(nowhere, 'status', '--verbose');
    assert.equal(option.code, 2);
    assert.match(option.err, /Unknown option '--verbose'/);
    assert.equal((await run(nowhere, 'status', 'extra')).code, 2);
    assert.equal((await run(nowhere, 'status', '--timeout', 'soon')).code, 2);
    const help = await run(nowhere, 'help');
    assert.deepEqual([help.code, /usage/.test(help.out)], [0, true]);
  });

  it('sends a command like any client (same id, same answer), exiting 1 when it is refused and 2 for a bad payload', async () => {
    const holderId = uniqueId('cli-holder');
    const args = ['send', 'holder', holderId, 'register', JSON.stringify({ name: 'Ada' }), '--command-id', `${holderId}-1`];
    const first = await run(env, ...args);
    assert.equal(first.code, 0, first.err);
    const outcome = JSON.parse(first.out) as { status: string; version: number; events: { type: string }[] };
    assert.deepEqual([outcome.status, outcome.version, outcome.events[0]?.type], ['accepted', 1, 'HolderRegistered']);
    const again = await run(env, ...args);
    assert.deepEqual(JSON.parse(again.out), outcome, 'the same commandId answers the same outcome');
    const twice = await run(env, 'send', 'holder', holderId, 'register', JSON.stringify({ name: 'Ada' }));
    assert.equal(twice.code, 1);
    assert.match(twice.out, /HOLDER_ALREADY_REGISTERED/);
    const bad = await run(env, 'send', 'holder', holderId, 'register', JSON.stringify({ name: '' }));
    assert.equal(bad.code, 2);
    assert.match(bad.err, /invalid holder.register payload/);
    assert.equal((await run(env, 'send', 'basket', 'b1', 'add')).code, 2);
    const json = await run(env, 'send', 'holder', holderId, 'rename', JSON.stringify({ name: 'Ada King' }), '--json');
    assert.equal(json.code, 0, json.err);
    assert.equal(json.out.trim().split('\n').length, 1, 'one line of JSON');
    assert.deepEqual((JSON.parse(json.out) as { version: number }).version, 2);
    const doc = await stack.trpc.holder.get.query({ holderId, minVersion: 2 });
    assert.equal(doc.name, 'Ada King');
  });

  it('exits 1 with a message, rather than hanging, when Redis is not reachable', async () => {
    const nowhere = `redis://127.0.0.1:${await freePort()}`;
    const down = await run({ ...env, REDIS_URL: nowhere }, 'status');
    assert.equal(down.code, 1);
    assert.match(down.err, /Redis at 127\.0\.0\.1:\d+ did not answer within 5s: is it running\?/);
    const soon = await run({ ...env, REDIS_URL: nowhere }, 'parked', 'accounts', '--timeout', '1', '--json');
    assert.equal(soon.code, 1);
    assert.match((JSON.parse(soon.err) as { error: string }).error, /Redis at 127\.0\.0\.1:\d+ did not answer within 1s/);

    // A "Redis" that takes the connection and never answers.
    const sockets: Socket[] = [];
    const silent = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = silent.address() as { port: number };
      const stalled = await run({ ...env, REDIS_URL: `redis://127.0.0.1:${port}` }, 'status', '--timeout', '1');
      assert.equal(stalled.code, 1);
      assert.match(stalled.err, new RegExp(`Redis at 127\\.0\\.0\\.1:${port} did not answer within 1s`));
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });

  it('exits 1 with a message, rather than hanging, when Temporal is not reachable', async () => {
    const nowhere = `127.0.0.1:${await freePort()}`;
    const down = await run({ ...env, TEMPORAL_ADDRESS: nowhere }, 'send', 'holder', uniqueId('cli-nowhere'), 'register', JSON.stringify({ name: 'Ada' }));
    assert.equal(down.code, 1);
    assert.match(down.err, new RegExp(`Temporal at ${nowhere.replace(/\./g, '\\.')} (did not answer within 5s|is not reachable): is it running\\?`));
  });

  it('sets up the cluster: says what it checked and changed, changes nothing the second time, exits 1 when a service is away', async () => {
    const first = await run(env, 'setup');
    assert.equal(first.code, 0, `${first.out}${first.err}`);
    assert.match(first.out, /^checked:\n/);
    assert.match(first.out, /\nchanged:\n[\s\S]*\nready\n$/);
    const again = await run(env, 'setup', '--dry-run', '--json');
    assert.equal(again.code, 0, again.err);
    const report = JSON.parse(again.out) as { checked: string[]; changed: string[]; ok: boolean };
    assert.deepEqual([report.ok, report.changed], [true, []]);
    assert.ok(report.checked.some((line) => /AggregateType/.test(line)), report.checked.join('\n'));
    const away = await run({ ...env, TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}` }, 'setup', '--json');
    assert.equal(away.code, 1);
    const failed = JSON.parse(away.out) as { checked: string[]; ok: boolean };
    assert.equal(failed.ok, false);
    assert.ok(failed.checked.some((line) => /^Temporal: /.test(line)), failed.checked.join('\n'));
  });

  // util-linux's `script` gives the CLI a terminal; last, so the events it adds slow no other rebuild.
  it('draws a progress bar on a terminal', async () => {
    // Without script(1) this cannot be tested, which is a failure, not a pass.
    assert.ok(
      spawnSync('script', ['--version']).error === undefined,
      'script(1) is missing: it gives the CLI a terminal here; install util-linux’s script with `apt-get install bsdutils` (make test does, through scripts/install-test-tools.sh)',
    );
    // Enough events that the rebuild outlasts a few of the CLI's one-second polls.
    await publishAccountFiller(stack.rabbit, stack.config.EVENTS_EXCHANGE, 30_000, 1000);
    await eventually(async () => {
      const accounts = (await stack.trpc.system.projections.query()).find((s) => s.name === 'accounts');
      // Offsets start at 0: the last of 30,000 events is at 29,999 or later.
      return accounts && accounts.tail !== null && accounts.tail >= 29_999 && accounts.checkpoint === accounts.tail ? true : undefined;
    }, 120_000, 'accounts caught up');

    const command = `${process.execPath} --import tsx ${cli} rebuild accounts`;
    const tty = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn('script', ['-qec', command, '/dev/null'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.once('exit', (code) => resolve({ code, out }));
    });
    assert.equal(tty.code, 0, tty.out);
    assert.match(tty.out, /\r\[[█░]{24}\] +\d+\.\d%  \d+\/\d+ events/, tty.out);
    assert.match(tty.out, /rebuilt: accounts now serves generation \d+/);
  });
});
