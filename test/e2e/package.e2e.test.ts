/**
 * The package as an app gets it: `npm pack` (which builds), `npm install` of the tarball into an
 * app in the system's temp folder, the app type-checked with this repo's tsc (strict) and run
 * against a real stack: typed commands, queries and a subscription, with a token.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestStack, uniqueId, type TestStack } from '../support/stack';

const repo = join(__dirname, '..', '..');
const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
const token = `app-${uniqueId('token')}`;

interface Result {
  code: number | null;
  out: string;
  err: string;
}

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<Result> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env, maxBuffer: 64 * 1024 * 1024 }, (error, out, err) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, out, err });
    });
  });
}

/** The app: the README's "Use it from your app", plus a domain definition and a wrong input. */
const appSource = `
import type { AppRouter, CustomerReadModel, LedgerflowClient } from 'ledgerflow';
import { createLedgerflowClient, defineAggregate, DomainError } from 'ledgerflow';
import { createTRPCClient, httpLink } from '@trpc/client';
import { z } from 'zod';

// AppRouter is the real router type, not any.
type IsAny<T> = 0 extends 1 & T ? true : false;
const routerIsTyped: IsAny<AppRouter> = false;

// The engine's definitions, for a domain of the app's own.
export const note = defineAggregate({
  name: 'note',
  idField: 'noteId',
  commands: { write: z.strictObject({ text: z.string().max(280) }) },
  events: { NoteWritten: z.object({ text: z.string() }) },
  errorCodes: ['NOTE_EXISTS'],
  initialState: () => ({ text: null as string | null }),
  decide(state, command) {
    if (state.text !== null) throw new DomainError('NOTE_EXISTS', 'already written');
    return [{ type: 'NoteWritten', payload: { text: command.payload.text } }];
  },
  evolve: (_state, event) => ({ text: event.payload.text }),
});

const url = process.env.LEDGERFLOW_URL!;
const customerId = process.env.CUSTOMER_ID!;
const client: LedgerflowClient = createLedgerflowClient({ url, token: process.env.LEDGERFLOW_TOKEN });

export async function wrongInput() {
  // @ts-expect-error email is a string
  await client.customer.register.mutate({ customerId, name: 'Ada', email: 42 });
}

function nextChange(predicate: (doc: CustomerReadModel) => boolean, onStarted: () => void): Promise<CustomerReadModel> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (subscription.unsubscribe(), reject(new Error('no change within 30s'))), 30_000);
    const subscription = client.customer.onChange.subscribe({ customerId }, {
      onStarted,
      onData: ({ data }) => {
        if (!predicate(data)) return;
        clearTimeout(timer);
        subscription.unsubscribe();
        resolve(data);
      },
      onError: (error) => (clearTimeout(timer), reject(error)),
    });
  });
}

const registered = await client.customer.register.mutate({ customerId, name: 'Ada Lovelace', email: 'ada@example.com' });
const version: number | null = registered.version;
const retried = await client.customer.register.mutate({ customerId, name: 'Ada Lovelace', email: 'ada@example.com', commandId: registered.commandId });
const customer = await client.customer.get.query({ customerId, minVersion: version ?? 1 });
const renamed = await nextChange(
  (doc) => doc.name === 'Ada King',
  () => void client.customer.rename.mutate({ customerId, name: 'Ada King' }),
);

// The README's plain tRPC client, typed by the same AppRouter.
const plain = createTRPCClient<AppRouter>({ links: [httpLink({ url: url + '/trpc', headers: { authorization: 'Bearer ' + process.env.LEDGERFLOW_TOKEN } })] });
const again = await plain.customer.get.query({ customerId });
let refused = '';
await createLedgerflowClient({ url, token: 'not-the-token', retries: 0 }).customer.get.query({ customerId }).catch((error: { data?: { code?: string } }) => {
  refused = error.data?.code ?? String(error);
});

console.log(JSON.stringify({ routerIsTyped, registered, retried, customer, renamed, again, refused }));
`;

describe('the ledgerflow package, installed into an app outside the repo', { timeout: 900_000 }, () => {
  let work: string;
  let app: string;
  let stack: TestStack | undefined;
  let packed: string[];

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'ledgerflow-package-'));
    // Pack from a copy of the checkout (sources, no dist/): the build is the one `npm pack` makes.
    const source = join(work, 'source');
    const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: repo, encoding: 'utf8' }).split('\0').filter(Boolean);
    for (const file of files) {
      if (!existsSync(join(repo, file))) continue;
      mkdirSync(dirname(join(source, file)), { recursive: true });
      cpSync(join(repo, file), join(source, file));
    }
    symlinkSync(join(repo, 'node_modules'), join(source, 'node_modules'), 'dir');
    const pack = await run('npm', ['pack', '--pack-destination', work], source);
    assert.equal(pack.code, 0, `npm pack failed:\n${pack.out}\n${pack.err}`);
    const tarball = readdirSync(work).find((f) => /^ledgerflow-.*\.tgz$/.test(f));
    assert.ok(tarball, 'npm pack wrote no tarball');
    packed = execFileSync('tar', ['-tzf', join(work, tarball)], { encoding: 'utf8' }).split('\n').filter(Boolean);

    app = join(work, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'an-app', version: '1.0.0', private: true, type: 'module' }, null, 2));
    const install = await run(
      'npm',
      ['install', join(work, tarball), '@trpc/client@11.25.2', 'zod@4.6.7', '@types/node@20.19.25', '--prefer-offline', '--no-audit', '--no-fund'],
      app,
    );
    assert.equal(install.code, 0, `npm install failed:\n${install.out}\n${install.err}`);

    // The app holds a client token: commands, queries and subscriptions, no operations.
    stack = await startTestStack({ env: { API_TOKENS: `client:${token}`, API_HOST: '127.0.0.1' } });
  });

  after(async () => {
    await stack?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('ships the build, its types and the bin, and no sources or tests', () => {
    for (const file of ['package/dist/index.js', 'package/dist/index.d.ts', 'package/dist/client/index.d.ts', 'package/dist/bin/ledgerflow.js', 'package/dist/workflow-bundle.js']) {
      assert.ok(packed.includes(file), `${file} is not in the tarball`);
    }
    assert.deepEqual(packed.filter((f) => !f.startsWith('package/dist/') && !/^package\/(package\.json|README\.md|LICENSE(\.\w+)?)$/i.test(f)), []);
    assert.deepEqual(packed.filter((f) => f.endsWith('.map') || f.endsWith('.ts') && !f.endsWith('.d.ts')), []);
    const installed = join(app, 'node_modules', 'ledgerflow');
    assert.match(readFileSync(join(installed, 'dist', 'bin', 'ledgerflow.js'), 'utf8'), /^#!\/usr\/bin\/env node\n/);
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(manifest.private, undefined);
  });

  it('type-checks a strict app that imports AppRouter and createLedgerflowClient, and catches a wrong input', async () => {
    writeFileSync(join(app, 'app.ts'), appSource);
    const tsconfig = (files: string[], emit: boolean, skipLibCheck = true) => ({
      compilerOptions: {
        target: 'ES2022',
        lib: ['ES2022'],
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        skipLibCheck,
        types: ['node'],
        ...(emit ? { outDir: 'out' } : { noEmit: true }),
      },
      files,
    });
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify(tsconfig(['app.ts'], true)));
    const check = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], app);
    assert.equal(check.code, 0, `the app does not type-check:\n${check.out}${check.err}`);

    // Ledgerflow's own declarations hold up when checked too (some of its dependencies' do not
    // without the DOM lib or @types/ms, hence skipLibCheck above, as most apps have it).
    writeFileSync(join(app, 'tsconfig.libcheck.json'), JSON.stringify(tsconfig(['app.ts'], false, false)));
    const libCheck = await run(process.execPath, [tsc, '-p', 'tsconfig.libcheck.json'], app);
    assert.deepEqual(libCheck.out.split('\n').filter((line) => /^(node_modules\/ledgerflow\/|app\.ts)/.test(line)), []);

    // The same wrong input without its @ts-expect-error: tsc names the field.
    writeFileSync(join(app, 'wrong.ts'), appSource.replace('// @ts-expect-error email is a string\n', ''));
    writeFileSync(join(app, 'tsconfig.wrong.json'), JSON.stringify(tsconfig(['wrong.ts'], false)));
    const wrong = await run(process.execPath, [tsc, '-p', 'tsconfig.wrong.json'], app);
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.out, /wrong\.ts\(\d+,\d+\): error TS2322: Type 'number' is not assignable to type 'string'/);
    assert.equal(wrong.out.match(/error TS/g)?.length, 1, wrong.out);
  });

  it('runs against the stack: a command with a client-made commandId, its retry, a query, a subscription, a refused token', async () => {
    const customerId = uniqueId('app-customer');
    const env = { ...process.env, LEDGERFLOW_URL: stack!.api!.url, LEDGERFLOW_TOKEN: token, CUSTOMER_ID: customerId };
    const result = await run(process.execPath, ['out/app.js'], app, env);
    assert.equal(result.code, 0, `the app failed:\n${result.out}\n${result.err}`);
    const report = JSON.parse(result.out) as {
      registered: { commandId: string; version: number; events: { type: string }[] };
      retried: unknown;
      customer: { name: string; version: number };
      renamed: { name: string; version: number };
      again: { name: string };
      refused: string;
    };
    assert.match(report.registered.commandId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'the client made a UUID commandId');
    assert.deepEqual([report.registered.version, report.registered.events[0]?.type], [1, 'CustomerRegistered']);
    assert.deepEqual(report.retried, report.registered, 'the same commandId answers the same outcome');
    assert.deepEqual([report.customer.name, report.customer.version], ['Ada Lovelace', 1]);
    assert.deepEqual([report.renamed.name, report.renamed.version], ['Ada King', 2]);
    assert.equal(report.again.name, 'Ada King');
    assert.equal(report.refused, 'UNAUTHORIZED');
  });

  it('keeps Temporal, RabbitMQ and Redis out of the client entries and of a browser bundle, and runs the ledgerflow bin', async () => {
    const loaded = async (entry: string) => {
      const script = `require(${JSON.stringify(entry)}); console.log(JSON.stringify(Object.keys(require.cache)))`;
      const result = await run(process.execPath, ['-e', script], app);
      assert.equal(result.code, 0, result.err);
      return (JSON.parse(result.out) as string[]).map((path) => path.slice(app.length));
    };
    const server = /node_modules\/(@temporalio|redis|@redis|rabbitmq-client|pino|prom-client)\//;
    assert.deepEqual((await loaded('ledgerflow')).filter((p) => server.test(p)), []);
    const client = await loaded('ledgerflow/client');
    assert.deepEqual(client.filter((p) => server.test(p) || /node_modules\/zod\//.test(p)), []);

    // A browser bundle of the client: esbuild (tsx's) refuses Node built-ins on this platform.
    const esbuild = require(require.resolve('esbuild', { paths: [require.resolve('tsx')] })) as typeof import('esbuild');
    const bundle = await esbuild.build({
      stdin: { contents: "export { createLedgerflowClient } from 'ledgerflow/client';", resolveDir: app },
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(bundle.metafile.inputs);
    assert.ok(inputs.some((p) => p.includes('node_modules/ledgerflow/dist/client/')), inputs.join('\n'));
    assert.deepEqual(inputs.filter((p) => p.includes('node_modules/ledgerflow/') && !p.includes('/dist/client/')), []);
    assert.deepEqual(inputs.filter((p) => server.test(p) || /node_modules\/zod\//.test(p)), []);

    const help = await run(join(app, 'node_modules', '.bin', 'ledgerflow'), ['--help'], app);
    assert.equal(help.code, 0, help.err);
    assert.match(help.out, /^usage: ledgerflow <command>/);
    assert.equal((await run(join(app, 'node_modules', '.bin', 'ledgerflow'), ['bogus'], app)).code, 2);
  });
});
