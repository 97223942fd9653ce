/**
 * `ledgerflow init` as a new user meets it: the two packages packed from this checkout, an app
 * written by `init` that depends on the tarballs, `npm install`, its `npm test` and `tsc`, and
 * `npm run dev` against a Temporal dev server of the test's own, serving the README's curl
 * commands and the typed client's first command and query; Ctrl-C (SIGINT to the process group,
 * as a terminal sends it) stops it all.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../core/config';
import { freePort } from '../../infra/net';
import { startTemporalDevServer, type DevServer } from '../../infra/temporal-dev-server';
import { isolatedNames, removeRunDataOf, uniqueId } from '../support/stack';

const repo = join(__dirname, '..', '..');
const tsx = join(repo, 'node_modules', '.bin', 'tsx');
const engine = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string; dependencies: Record<string, string>; devDependencies: Record<string, string> };
const minutes = (n: number) => n * 60_000;

interface Result {
  code: number | null;
  out: string;
  err: string;
  seconds: number;
}

/**
 * The environment an app's own commands get: none of this test run's (no ledgerflow-source
 * condition, no npm_* of a parent npm, no NODE_TEST_CONTEXT, which would make the app's
 * `node --test` report to this runner instead of printing).
 */
const notInherited = new Set(['NODE_OPTIONS', 'NODE_TEST_CONTEXT', 'LEDGERFLOW_CONFIG']);
function appEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !notInherited.has(key) && !key.startsWith('npm_')));
  return { ...env, ...extra };
}

/** Runs a command to its end (killed after `deadlineMs`: a hung install fails the test instead of hanging it). */
function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, deadlineMs: number): Promise<Result> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const timer = setTimeout(() => {
      err += `\n[test] killed after ${deadlineMs / 1000}s`;
      child.kill('SIGKILL');
    }, deadlineMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err, seconds: Number(((Date.now() - started) / 1000).toFixed(1)) });
    });
  });
}

const shown = (r: Result) => `exit ${r.code} after ${r.seconds}s\n--- stdout\n${r.out.slice(-6000)}\n--- stderr\n${r.err.slice(-6000)}`;

/** Every file under `dir` (relative paths), node_modules left out. */
function filesUnder(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.name !== 'node_modules')
    .flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`]))
    .sort();
}

/** `npm pack` of a copy of `files` (so the checkout's own dist/ is left alone), with the repo's node_modules for the build. */
async function pack(files: string[], from: string, into: string, label: string): Promise<{ tarball: string; seconds: number }> {
  const source = join(into, `${label}-source`);
  for (const file of files) {
    if (!existsSync(join(repo, file))) continue;
    mkdirSync(dirname(join(source, file)), { recursive: true });
    cpSync(join(repo, file), join(source, file));
  }
  symlinkSync(join(repo, 'node_modules'), join(source, from, 'node_modules'), 'dir');
  const packed = await run('npm', ['pack', '--pack-destination', into], join(source, from), appEnv(), minutes(10));
  assert.equal(packed.code, 0, `npm pack of ${label} failed: ${shown(packed)}`);
  const tarball = packed.out.trim().split('\n').pop()!;
  assert.ok(existsSync(join(into, tarball)), `npm pack of ${label} wrote no ${tarball}`);
  return { tarball, seconds: packed.seconds };
}

/** Lines written by a running process, and a wait for one that matches. */
function watch(child: ChildProcess) {
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | string | null>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
  return {
    output: () => out,
    exited,
    async until(patterns: RegExp[], deadlineMs: number, label: string) {
      const deadline = Date.now() + deadlineMs;
      let gone = false;
      void exited.then(() => (gone = true));
      while (!patterns.every((p) => p.test(out))) {
        if (gone) assert.fail(`npm run dev exited before ${label}:\n${out.slice(-8000)}`);
        if (Date.now() > deadline) assert.fail(`${label} not seen within ${deadlineMs / 1000}s:\n${out.slice(-8000)}`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    },
  };
}

const groupAlive = (pid: number) => {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('ledgerflow init: a starter app on the packed packages', { timeout: minutes(40) }, () => {
  let work: string;
  let app: string;
  const times: Record<string, number> = {};

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'ledgerflow-init-'));
    const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: repo, encoding: 'utf8' }).split('\0').filter(Boolean);
    const [engineTarball, clientTarball] = await Promise.all([
      pack(files, '.', work, 'ledgerflow'),
      pack(files.filter((f) => f.startsWith('client/')), 'client', work, 'client'),
    ]);
    times['npm pack (both, in parallel)'] = Math.max(engineTarball.seconds, clientTarball.seconds);

    // Relative paths from where init runs: init makes them absolute for the app's package.json.
    const init = await run(tsx, [join(repo, 'bin', 'ledgerflow.ts'), 'init', 'app', '--ledgerflow', `./${engineTarball.tarball}`, '--client', `./${clientTarball.tarball}`], work, process.env, minutes(2));
    assert.equal(init.code, 0, `init failed: ${shown(init)}`);
    assert.match(init.out, /Created app in .*\n[\s\S]*npm install\n[\s\S]*npm run dev/);
    app = join(work, 'app');

    const install = await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund'], app, appEnv(), minutes(15));
    assert.equal(install.code, 0, `npm install failed: ${shown(install)}`);
    times['npm install'] = install.seconds;
  });

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
    console.log(`[init.e2e] times (s): ${JSON.stringify(times)}`);
  });

  it('writes the app: the files its README describes, the scripts, and dependencies at the tarballs and the engine’s versions', () => {
    assert.deepEqual(filesUnder(app).filter((f) => !f.startsWith('package-lock')), [
      '.gitignore',
      'README.md',
      'domain/account/account.ts',
      'domain/account/index.ts',
      'domain/account/projection.ts',
      'domain/account/queries.ts',
      'domain/account/state.ts',
      'ledgerflow.config.ts',
      'package.json',
      'scripts/first-steps.ts',
      'test/account.unit.test.ts',
      'tsconfig.json',
    ]);
    const manifest = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')) as { name: string; scripts: Record<string, string>; dependencies: Record<string, string>; devDependencies: Record<string, string> };
    assert.equal(manifest.name, 'app');
    assert.equal(manifest.scripts.dev, 'ledgerflow dev');
    assert.equal(manifest.scripts.test, 'node --import tsx --test test/*.test.ts');
    assert.deepEqual(manifest.dependencies, {
      '@ledgerflow/client': `file:${join(work, `ledgerflow-client-${engine.version}.tgz`)}`,
      ledgerflow: `file:${join(work, `ledgerflow-${engine.version}.tgz`)}`,
      tsx: engine.dependencies.tsx,
      zod: engine.dependencies.zod,
    });
    assert.deepEqual(manifest.devDependencies, { '@types/node': engine.devDependencies['@types/node'], typescript: engine.devDependencies.typescript });
    assert.equal(JSON.parse(readFileSync(join(app, 'tsconfig.json'), 'utf8')).compilerOptions.strict, true);
  });

  it('refuses a folder that is not empty (exit 2, saying so) and leaves it as it was', async () => {
    const before = filesUnder(app).map((f) => [f, readFileSync(join(app, f), 'utf8')]);
    const again = await run(tsx, [join(repo, 'bin', 'ledgerflow.ts'), 'init', app], work, process.env, minutes(2));
    assert.equal(again.code, 2, shown(again));
    assert.match(again.err, new RegExp(`${app.replace(/[/.]/g, '\\$&')} is not empty \\(\\.gitignore, README\\.md, domain, .*\\): init writes a new app into an empty or new folder`));
    assert.deepEqual(filesUnder(app).map((f) => [f, readFileSync(join(app, f), 'utf8')]), before);
  });

  it('npm test passes: the decider test, through tsx', async () => {
    const result = await run('npm', ['test'], app, appEnv(), minutes(5));
    times['npm test'] = result.seconds;
    assert.equal(result.code, 0, shown(result));
    assert.match(result.out, /# pass [1-9]\d*\n# fail 0\n/);
    assert.match(result.out, /ok \d+ - withdraws up to the balance and refuses more with INSUFFICIENT_FUNDS/);
  });

  it('type-checks with tsc --noEmit, and a wrong input to the typed client does not', async () => {
    const clean = await run('npx', ['tsc', '--noEmit'], app, appEnv(), minutes(5));
    times['npx tsc --noEmit'] = clean.seconds;
    assert.equal(clean.code, 0, shown(clean));

    // An amount as a string must not compile: AppRouter types the client (were it `any`, this would compile).
    const wrong = join(app, 'scripts', 'wrong-input.ts');
    writeFileSync(
      wrong,
      [
        "import { createLedgerflowClient } from '@ledgerflow/client';",
        "import type { AppRouter } from '../ledgerflow.config';",
        "const client = createLedgerflowClient<AppRouter>({ url: 'http://127.0.0.1:3000' });",
        "export const wrong = () => client.account.deposit.mutate({ accountId: 'acc-1', amount: '19.99' });",
        '',
      ].join('\n'),
    );
    try {
      const failing = await run('npx', ['tsc', '--noEmit'], app, appEnv(), minutes(5));
      assert.equal(failing.code, 2, shown(failing));
      assert.match(failing.out, /scripts\/wrong-input\.ts\(4,\d+\): error TS2322: Type 'string' is not assignable to type 'number'/);
      assert.equal(failing.out.trim().split('\n').filter((line) => / error TS/.test(line)).length, 1, failing.out);
    } finally {
      rmSync(wrong);
    }
  });

  it('the installed CLI writes the same app: the templates ship in the package', async () => {
    const second = join(work, 'second');
    const result = await run(join(app, 'node_modules', '.bin', 'ledgerflow'), ['init', second], work, appEnv(), minutes(2));
    assert.equal(result.code, 0, shown(result));
    const written = filesUnder(second);
    assert.deepEqual(written, filesUnder(app).filter((f) => !f.startsWith('package-lock')));
    for (const file of written.filter((f) => f !== 'package.json' && f !== 'README.md')) {
      assert.equal(readFileSync(join(second, file), 'utf8'), readFileSync(join(app, file), 'utf8'), file);
    }
    assert.match(readFileSync(join(second, 'README.md'), 'utf8'), /^# second\n/);
    const manifest = JSON.parse(readFileSync(join(second, 'package.json'), 'utf8')) as { name: string; dependencies: Record<string, string> };
    assert.equal(manifest.name, 'second');
    assert.equal(manifest.dependencies.ledgerflow, engine.version);
    assert.equal(manifest.dependencies['@ledgerflow/client'], engine.version);
  });

  describe('npm run dev', () => {
    const names = isolatedNames(uniqueId('init'));
    let temporal: DevServer | undefined;
    let dev: ChildProcess | undefined;
    let env: NodeJS.ProcessEnv;
    let apiUrl: string;

    before(async () => {
      temporal = await startTemporalDevServer({ port: await freePort() });
      const [api, workerMetrics, projectorMetrics] = [await freePort(), await freePort(), await freePort()];
      apiUrl = `http://127.0.0.1:${api}`;
      env = appEnv({
        ...names,
        TEMPORAL_ADDRESS: temporal.address,
        API_PORT: String(api),
        WORKER_METRICS_PORT: String(workerMetrics),
        PROJECTOR_METRICS_PORT: String(projectorMetrics),
        LOG_LEVEL: 'info',
      });
    });

    after(async () => {
      if (dev?.pid && groupAlive(dev.pid)) process.kill(-dev.pid, 'SIGKILL');
      await temporal?.stop();
      await removeRunDataOf(loadConfig(env));
    });

    it('serves the README’s commands and queries and the typed client’s; Ctrl-C stops it all', async () => {
      const started = Date.now();
      // Its own process group, so SIGINT reaches npm, ledgerflow dev and its children as Ctrl-C in a terminal does.
      dev = spawn('npm', ['run', 'dev'], { cwd: app, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      const output = watch(dev);
      await output.until([/Ledgerflow is up: .*ledgerflow\.config\.ts/, /\[worker\] .*"msg":"worker started"/, /\[projector\] .*"msg":"projector started"/], minutes(8), 'the stack up');
      times['npm run dev: up (worker and projector started)'] = Number(((Date.now() - started) / 1000).toFixed(1));
      assert.match(output.output(), new RegExp(`using the Temporal server at ${temporal!.address.replace('.', '\\.')}`));
      assert.match(output.output(), new RegExp(`API \\(tRPC\\) +${apiUrl.replace(/[/.]/g, '\\$&')}/trpc`));

      // The README's curl commands, as written, at this run's port.
      const readme = readFileSync(join(app, 'README.md'), 'utf8');
      const curls = readme.split('\n').filter((line) => line.startsWith('curl '));
      assert.equal(curls.length, 4, readme);
      const answers: unknown[] = [];
      for (const line of curls) {
        const result = await run('sh', ['-c', line.replaceAll('http://127.0.0.1:3000', apiUrl)], app, env, minutes(2));
        assert.equal(result.code, 0, `${line}: ${shown(result)}`);
        answers.push(JSON.parse(result.out));
      }
      const [opened, deposited, read, byOwner] = answers as [
        { result: { data: { aggregateId: string; version: number; events: { type: string }[] } } },
        { result: { data: { version: number; events: { type: string; payload: unknown }[] } } },
        { result: { data: { accountId: string; owner: string; balance: number; version: number } } },
        { result: { data: { accountId: string; balance: number }[] } },
      ];
      assert.deepEqual([opened.result.data.aggregateId, opened.result.data.version, opened.result.data.events.map((e) => e.type)], ['acc-1', 1, ['AccountOpened']]);
      assert.deepEqual([deposited.result.data.version, deposited.result.data.events], [2, [{ type: 'MoneyDeposited', version: 2, payload: { amountCents: 1999 } }]]);
      assert.deepEqual([read.result.data.accountId, read.result.data.owner, read.result.data.balance, read.result.data.version], ['acc-1', 'ada', 19.99, 2]);
      assert.deepEqual(byOwner.result.data.map((a) => [a.accountId, a.balance]), [['acc-1', 19.99]]);

      // The typed client: open, deposit, get with minVersion, the custom query, a refused withdrawal.
      const first = await run('npx', ['tsx', 'scripts/first-steps.ts', 'acc-2'], app, appEnv({ LEDGERFLOW_URL: apiUrl }), minutes(3));
      assert.equal(first.code, 0, shown(first));
      assert.equal(
        first.out,
        ['deposited: version 2', 'acc-2: balance 25', 'ada has 2 account(s): acc-2 25, acc-1 19.99', 'refused: UNPROCESSABLE_CONTENT INSUFFICIENT_FUNDS', ''].join('\n'),
      );

      const stopping = Date.now();
      process.kill(-dev.pid!, 'SIGINT');
      const deadline = Date.now() + minutes(2);
      while (groupAlive(dev.pid!) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(groupAlive(dev.pid!), false, `processes of npm run dev still running 2 minutes after SIGINT:\n${output.output().slice(-4000)}`);
      // npm ends itself with the signal its script ended on, as a shell expects of Ctrl-C.
      assert.ok(['SIGINT', 0].includes((await output.exited) as string | number), `npm run dev exited with ${String(await output.exited)}`);
      times['npm run dev: stopped after SIGINT'] = Number(((Date.now() - stopping) / 1000).toFixed(1));
      assert.match(output.output(), /\[dev\] stopping\.\.\.\n[\s\S]*\[dev\] stopped\./);
    });
  });
});
