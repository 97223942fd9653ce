/**
 * The two packages as users get them, outside this repository: `npm pack` of the engine
 * (`ledgerflow`, built by its prepack) and of the client (`@ledgerflow/client`), each installed
 * into an app of its own in the system's temp folder.
 *
 * (a) An app with a domain of its own (a library: members and books, a read model with indexes,
 *     a custom query, a loan rule that reads the member aggregate) installs both tarballs,
 *     type-checks strictly (a wrong input is a compile error), runs `ledgerflow dev` from the
 *     installed package against a Temporal server of the test's own and the shared RabbitMQ and
 *     Redis under unique names, and through its own AppRouter sends commands, reads with
 *     minVersion, subscribes, runs its query, rebuilds a projection with `ledgerflow rebuild`,
 *     and finds its aggregates as workflows in Temporal.
 * (b) A client-only app installs `@ledgerflow/client` alone: its node_modules is measured (under
 *     5 MB), a typed call against a router type it declares type-checks (and a wrong one does
 *     not), it bundles for the browser with nothing of the server, and it talks to (a)'s API.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Connection, Client } from '@temporalio/client';
import { loadConfig } from '../../core/config';
import { closeRedis, createRedis } from '../../infra/redis';
import { startTemporalDevServer, type DevServer } from '../../infra/temporal-dev-server';
import { eventually, freePort, isolatedNames, removeRunDataOf, uniqueId } from '../support/stack';

const repo = join(__dirname, '..', '..');
const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
const token = `app-${uniqueId('token')}`;
const adminToken = `admin-${uniqueId('token')}`;
const MB = 1024 * 1024;

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

async function timed<T>(label: string, work: () => Promise<T>): Promise<T> {
  const started = Date.now();
  const value = await work();
  console.log(`# ${label}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return value;
}

/** Bytes of the files under `dir` (as on disk before block rounding; symlinks not followed). */
function sizeOf(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += sizeOf(path);
    else total += lstatSync(path).size;
  }
  return total;
}

function writeFiles(root: string, files: Record<string, string>) {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
}

const strictTsconfig = (files: string[], extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    compilerOptions: { target: 'ES2022', lib: ['ES2022'], module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: true, types: ['node'], ...extra },
    files,
  });

/** The app's domain: not the shop, written the way the README shows. */
const libraryApp: Record<string, string> = {
  'domain/member.ts': `
import { z } from 'zod';
import { assertNever, defineAggregate, defineModule, defineProjection, DomainError, type MessageOf } from 'ledgerflow';

export const memberEvents = {
  MemberJoined: z.object({ name: z.string() }),
  MemberSuspended: z.object({ reason: z.string() }),
};
export type MemberEvent = MessageOf<typeof memberEvents>;
export interface MemberState { status: 'none' | 'active' | 'suspended'; name: string }

export const member = defineAggregate({
  name: 'member',
  idField: 'memberId',
  events: memberEvents,
  initialState: (): MemberState => ({ status: 'none', name: '' }),
  evolve(state: MemberState, event: MemberEvent): MemberState {
    switch (event.type) {
      case 'MemberJoined': return { status: 'active', name: event.payload.name };
      case 'MemberSuspended': return { ...state, status: 'suspended' };
      default: return assertNever(event);
    }
  },
  commands: {
    join: z.strictObject({ name: z.string().min(1).max(100) }),
    suspend: z.strictObject({ reason: z.string().min(1) }),
  },
  errorCodes: ['MEMBER_EXISTS', 'NOT_A_MEMBER'],
  decide(state, command) {
    switch (command.type) {
      case 'join':
        if (state.status !== 'none') throw new DomainError('MEMBER_EXISTS', 'already a member');
        return [{ type: 'MemberJoined', payload: command.payload }];
      case 'suspend':
        if (state.status === 'none') throw new DomainError('NOT_A_MEMBER', 'no such member');
        return [{ type: 'MemberSuspended', payload: command.payload }];
      default:
        return assertNever(command);
    }
  },
});

export interface MemberCard { memberId: string; name: string; status: 'active' | 'suspended'; version: number }

export const members = defineProjection<MemberCard, typeof member.events>({
  name: 'members',
  version: 1,
  source: member,
  evolve(card, event) {
    if (event.type === 'MemberJoined') return { memberId: event.aggregateId, name: event.payload.name, status: 'active', version: event.version };
    return card && { ...card, status: 'suspended', version: event.version };
  },
});

export const memberModule = defineModule({ aggregate: member, readModel: members });
`,
  'domain/book.ts': `
import { z } from 'zod';
import { assertNever, defineAggregate, defineModule, defineProjection, defineQuery, DomainError, type AggregateRef, type LookedUp, type MessageOf } from 'ledgerflow';
import type { MemberState } from './member';

export const bookEvents = {
  BookAdded: z.object({ title: z.string(), author: z.string() }),
  BookLent: z.object({ memberId: z.string(), memberVersion: z.number().int() }),
  BookReturned: z.object({ memberId: z.string() }),
};
export type BookEvent = MessageOf<typeof bookEvents>;
export interface BookState { status: 'none' | 'available' | 'lent'; borrower: string | null }

export const book = defineAggregate({
  name: 'book',
  idField: 'bookId',
  events: bookEvents,
  initialState: (): BookState => ({ status: 'none', borrower: null }),
  evolve(state: BookState, event: BookEvent): BookState {
    switch (event.type) {
      case 'BookAdded': return { status: 'available', borrower: null };
      case 'BookLent': return { status: 'lent', borrower: event.payload.memberId };
      case 'BookReturned': return { status: 'available', borrower: null };
      default: return assertNever(event);
    }
  },
  describe: (state: BookState) => \`**Book** \${state.status}\${state.borrower ? \` to \${state.borrower}\` : ''}\`,
  commands: {
    add: z.strictObject({ title: z.string().min(1).max(200), author: z.string().min(1).max(200) }),
    lend: z.strictObject({ memberId: z.string().min(1).max(128) }),
    giveBack: z.strictObject({}),
  },
  errorCodes: ['BOOK_EXISTS', 'NO_SUCH_BOOK', 'ON_LOAN', 'NOT_LENT', 'NOT_A_MEMBER', 'MEMBER_SUSPENDED'],
  // Lending reads the member aggregate's current state, not a read model.
  lookups: (command): Record<string, AggregateRef> => (command.type === 'lend' ? { member: { aggregateType: 'member', aggregateId: command.payload.memberId } } : {}),
  decide(state, command, { lookups }) {
    if (command.type !== 'add' && state.status === 'none') throw new DomainError('NO_SUCH_BOOK', 'no such book');
    switch (command.type) {
      case 'add':
        if (state.status !== 'none') throw new DomainError('BOOK_EXISTS', 'already in the catalogue');
        return [{ type: 'BookAdded', payload: command.payload }];
      case 'lend': {
        if (state.status === 'lent') throw new DomainError('ON_LOAN', 'the book is on loan');
        const found = lookups.member as LookedUp<MemberState> | null;
        if (!found || found.state.status === 'none') throw new DomainError('NOT_A_MEMBER', 'no such member');
        if (found.state.status === 'suspended') throw new DomainError('MEMBER_SUSPENDED', 'the member is suspended');
        return [{ type: 'BookLent', payload: { memberId: command.payload.memberId, memberVersion: found.version } }];
      }
      case 'giveBack':
        if (state.status !== 'lent' || !state.borrower) throw new DomainError('NOT_LENT', 'the book is not on loan');
        return [{ type: 'BookReturned', payload: { memberId: state.borrower } }];
      default:
        return assertNever(command);
    }
  },
});

export interface Book { bookId: string; title: string; author: string; borrower: string | null; lends: number; version: number }

export const books = defineProjection<Book, typeof book.events>({
  name: 'books',
  version: 1,
  source: book,
  evolve(doc, event) {
    switch (event.type) {
      case 'BookAdded': return { bookId: event.aggregateId, ...event.payload, borrower: null, lends: 0, version: event.version };
      case 'BookLent': return doc && { ...doc, borrower: event.payload.memberId, lends: doc.lends + 1, version: event.version };
      case 'BookReturned': return doc && { ...doc, borrower: null, version: event.version };
      default: return assertNever(event);
    }
  },
  indexes: {
    /** The books a member has on loan, by how often each was lent. */
    byBorrower: (doc) => (doc.borrower ? { key: doc.borrower, score: doc.lends } : null),
    byAuthor: (doc) => ({ key: doc.author, score: doc.version }),
  },
});

export const bookModule = defineModule({
  aggregate: book,
  readModel: books,
  queries: {
    onLoanTo: defineQuery({
      description: 'The books a member has on loan.',
      input: z.strictObject({ memberId: z.string().min(1) }),
      run: (read, input) => read.list(books, 'byBorrower', { key: input.memberId }),
    }),
  },
});
`,
  'ledgerflow.config.ts': `
import { defineConfig, type RouterOf } from 'ledgerflow';
import { bookModule } from './domain/book';
import { memberModule } from './domain/member';

const config = defineConfig({ modules: { member: memberModule, book: bookModule } });
export default config;
export type AppRouter = RouterOf<typeof config>;
`,
  'scenario.ts': `
import { createLedgerflowClient } from '@ledgerflow/client';
import type { AppRouter } from './ledgerflow.config';
import type { Book } from './domain/book';

const client = createLedgerflowClient<AppRouter>({ url: process.env.LEDGERFLOW_URL!, token: () => process.env.LEDGERFLOW_TOKEN });
const [memberId, bookId, otherBookId] = [process.env.MEMBER_ID!, process.env.BOOK_ID!, process.env.OTHER_BOOK_ID!];

export async function wrongInputs() {
  // @ts-expect-error title is a string
  await client.book.add.mutate({ bookId, title: 42, author: 'Herbert' });
  // @ts-expect-error the member has no such command
  await client.member.rename.mutate({ memberId, name: 'x' });
}

function nextChange(predicate: (doc: Book) => boolean, onStarted: () => void): Promise<Book> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (subscription.unsubscribe(), reject(new Error('no change within 60s'))), 60_000);
    const subscription = client.book.onChange.subscribe({ bookId }, {
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

async function refusal(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return 'accepted';
  } catch (error) {
    const data = (error as { data?: { code?: string; domainCode?: string | null } }).data;
    return \`\${data?.code}:\${data?.domainCode ?? '-'}\`;
  }
}

async function main() {
  if (process.argv[2] === 'read') {
    const book = await client.book.get.query({ bookId });
    const onLoan = await client.book.onLoanTo.query({ memberId });
    console.log(JSON.stringify({ book, onLoan }));
    return;
  }
  const joined = await client.member.join.mutate({ memberId, name: 'Ada' });
  await client.book.add.mutate({ bookId, title: 'Dune', author: 'Frank Herbert' });
  await client.book.add.mutate({ bookId: otherBookId, title: 'Solaris', author: 'Stanislaw Lem' });
  const lent = await client.book.lend.mutate({ bookId, memberId });
  const retried = await client.book.lend.mutate({ bookId, memberId, commandId: lent.commandId });
  const read = await client.book.get.query({ bookId, minVersion: lent.version ?? 1 });
  await client.book.lend.mutate({ bookId: otherBookId, memberId, wait: 'projected' });
  const onLoan = await client.book.onLoanTo.query({ memberId });
  const returned = await nextChange((doc) => doc.borrower === null, () => void client.book.giveBack.mutate({ bookId }));
  const member = await client.member.get.query({ memberId, minVersion: joined.version ?? 1 });
  await client.member.suspend.mutate({ memberId, reason: 'late returns' });
  const suspendedLend = await refusal(client.book.lend.mutate({ bookId, memberId }));
  const strangerLend = await refusal(client.book.lend.mutate({ bookId, memberId: memberId + '-nobody' }));
  const badInput = await refusal(client.book.add.mutate({ bookId: 'b', title: '', author: 'x' }));
  const noToken = await refusal(createLedgerflowClient<AppRouter>({ url: process.env.LEDGERFLOW_URL!, retries: 0 }).book.get.query({ bookId }));
  const after = await client.book.onLoanTo.query({ memberId });
  console.log(JSON.stringify({ joined, lent, retried, read, onLoan, returned, member, suspendedLend, strangerLend, badInput, noToken, after }));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
`,
  'stack-check.ts': `
import { startTestStack } from 'ledgerflow/testing/stack';
import { replayHistories } from 'ledgerflow/testing/replay';
import type { AppRouter } from './ledgerflow.config';

// An e2e test of the app on its own stack (against the Temporal server TEMPORAL_ADDRESS names), and the replay check.
async function main() {
  const stack = await startTestStack<AppRouter>({ temporal: process.env.TEMPORAL_ADDRESS });
  try {
    const memberId = \`stack-\${process.pid}\`;
    await stack.trpc.member.join.mutate({ memberId, name: 'Grace', wait: 'projected' });
    // @ts-expect-error the stack's client is typed by the app's router
    await stack.trpc.member.join.mutate({ memberId, name: 42 }).catch(() => undefined);
    const card = await stack.trpc.member.get.query({ memberId });
    const history = await stack.temporal.workflow.getHandle(\`member:\${memberId}\`).fetchHistory();
    const failures = await replayHistories(stack.app, { member: history });
    console.log(JSON.stringify({ card, failures, taskQueue: stack.settings.TEMPORAL_TASK_QUEUE, prefix: stack.settings.REDIS_PREFIX }));
  } finally {
    await stack.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
`,
};

/** The client-only app: a router type it declares itself, a typed call, a browser entry. */
const clientOnlyApp: Record<string, string> = {
  'api-types.d.ts': `
import type { DeclareRouter, Mutation, Query, Subscription } from '@ledgerflow/client';

export interface Book { bookId: string; title: string; author: string; borrower: string | null; lends: number; version: number }

export type AppRouter = DeclareRouter<{
  book: {
    add: Mutation<{ bookId: string; title: string; author: string }>;
    get: Query<{ bookId: string; minVersion?: number }, Book>;
    onLoanTo: Query<{ memberId: string }, Book[]>;
    onChange: Subscription<{ bookId: string; lastEventId?: string | null }, Book>;
  };
}>;
`,
  'main.ts': `
import { createLedgerflowClient } from '@ledgerflow/client';
import type { AppRouter, Book } from './api-types';

export const client = createLedgerflowClient<AppRouter>({ url: location.origin, token: () => sessionStorage.getItem('token') });

export async function show(bookId: string): Promise<string> {
  const added = await client.book.add.mutate({ bookId, title: 'Dune', author: 'Frank Herbert' });
  const book: Book = await client.book.get.query({ bookId, minVersion: added.version ?? 1 });
  client.book.onChange.subscribe({ bookId }, { onData: ({ id, data }) => console.log(id, data.title.toUpperCase()) });
  // @ts-expect-error author is required
  await client.book.add.mutate({ bookId, title: 'Dune' });
  return book.title;
}
`,
  'node-check.cjs': `
const { createLedgerflowClient } = require('@ledgerflow/client');
const client = createLedgerflowClient({ url: process.env.LEDGERFLOW_URL, token: process.env.LEDGERFLOW_TOKEN });
(async () => {
  const book = await client.book.get.query({ bookId: process.env.BOOK_ID });
  const first = await new Promise((resolve, reject) => {
    const sub = client.book.onChange.subscribe({ bookId: process.env.BOOK_ID }, {
      onData: (message) => (sub.unsubscribe(), resolve(message)),
      onError: reject,
    });
  });
  console.log(JSON.stringify({ book, first }));
})().catch((error) => (console.error(error), process.exit(1)));
`,
};

describe('the two packages, packed and installed into apps outside the repository', { timeout: 1_500_000 }, () => {
  const runId = uniqueId('pkg');
  const names = isolatedNames(runId);
  let work: string;
  let engineTarball: string;
  let clientTarball: string;
  let app: string;
  let clientApp: string;
  let temporalServer: DevServer | undefined;
  let dev: ChildProcess | undefined;
  let devOutput = '';
  let env: NodeJS.ProcessEnv;
  let apiUrl: string;
  const ids = { MEMBER_ID: uniqueId('member'), BOOK_ID: uniqueId('book'), OTHER_BOOK_ID: uniqueId('book') };

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'ledgerflow-packages-'));
    // Pack from a copy of the checkout (sources, no builds): the builds are the ones prepack makes,
    // and the checkout's own dist/ is left alone.
    const source = join(work, 'source');
    const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: repo, encoding: 'utf8' }).split('\0').filter(Boolean);
    for (const file of files) {
      if (!existsSync(join(repo, file)) || /(^|\/)node_modules(\/|$)/.test(file)) continue;
      mkdirSync(dirname(join(source, file)), { recursive: true });
      cpSync(join(repo, file), join(source, file));
    }
    symlinkSync(join(repo, 'node_modules'), join(source, 'node_modules'), 'dir');
    for (const [dir, label] of [[source, 'ledgerflow'], [join(source, 'client'), '@ledgerflow/client']] as const) {
      const pack = await timed(`npm pack ${label} (with its prepack build)`, () => run('npm', ['pack', '--pack-destination', work], dir));
      assert.equal(pack.code, 0, `npm pack of ${label} failed:\n${pack.out}\n${pack.err}`);
    }
    const tarballs = readdirSync(work);
    engineTarball = join(work, tarballs.find((f) => /^ledgerflow-\d.*\.tgz$/.test(f)) ?? assert.fail(`no ledgerflow tarball in ${tarballs.join(', ')}`));
    clientTarball = join(work, tarballs.find((f) => /^ledgerflow-client-.*\.tgz$/.test(f)) ?? assert.fail(`no client tarball in ${tarballs.join(', ')}`));
    for (const tarball of [engineTarball, clientTarball]) console.log(`# ${tarball.slice(work.length + 1)}: ${(lstatSync(tarball).size / 1024).toFixed(0)} KB`);

    app = join(work, 'library');
    clientApp = join(work, 'frontend');
    mkdirSync(app);
    mkdirSync(clientApp);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'library', version: '1.0.0', private: true }, null, 2));
    writeFileSync(join(clientApp, 'package.json'), JSON.stringify({ name: 'frontend', version: '1.0.0', private: true }, null, 2));
    const quiet = ['--prefer-offline', '--no-audit', '--no-fund'];
    const installs = await Promise.all([
      timed('npm install of the app (both tarballs, zod, tsx, @types/node)', () =>
        run('npm', ['install', engineTarball, clientTarball, 'zod@4.6.7', 'tsx@4.23.15', '@types/node@20.19.25', ...quiet], app),
      ),
      timed('npm install of the client-only app (the client tarball alone)', () => run('npm', ['install', clientTarball, ...quiet], clientApp)),
    ]);
    for (const install of installs) assert.equal(install.code, 0, `npm install failed:\n${install.out}\n${install.err}`);
    writeFiles(app, libraryApp);
    writeFiles(clientApp, clientOnlyApp);

    temporalServer = await startTemporalDevServer({ port: await freePort() });
    const apiPort = await freePort();
    apiUrl = `http://127.0.0.1:${apiPort}`;
    env = {
      ...process.env,
      NODE_OPTIONS: '', // the repository's source condition stays out of the app
      TEMPORAL_ADDRESS: temporalServer.address,
      ...names,
      API_PORT: String(apiPort),
      API_TOKENS: `client:${token},admin:${adminToken}`,
      WORKER_METRICS_PORT: String(await freePort()),
      PROJECTOR_METRICS_PORT: String(await freePort()),
      LOG_LEVEL: 'warn',
      LEDGERFLOW_URL: apiUrl,
      LEDGERFLOW_TOKEN: token,
      ...ids,
    };
  });

  after(async () => {
    if (dev && dev.exitCode === null && dev.signalCode === null) {
      const exited = new Promise((resolve) => dev!.once('exit', resolve));
      dev.kill('SIGTERM');
      const killer = setTimeout(() => process.kill(-dev!.pid!, 'SIGKILL'), 30_000);
      await exited;
      clearTimeout(killer);
    }
    if (dev?.pid) {
      try {
        process.kill(-dev.pid, 'SIGKILL'); // anything of the group left behind
      } catch {
        // the group is gone
      }
    }
    await temporalServer?.stop();
    await removeRunDataOf(loadConfig({ ...names }));
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('packs the engine with the build its bins need and the client with no dependencies', () => {
    const list = (tarball: string) => execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n').filter(Boolean);
    const engine = list(engineTarball);
    for (const file of ['package/dist/index.js', 'package/dist/index.d.ts', 'package/dist/server.js', 'package/dist/testing/given.js', 'package/dist/testing/stack.js', 'package/dist/testing/stack.d.ts', 'package/dist/testing/replay.js', 'package/dist/bin/ledgerflow.js', 'package/dist/bin/worker.js', 'package/dist/bin/projector.js', 'package/dist/bin/api.js', 'package/dist/workflows/aggregate.js']) {
      assert.ok(engine.includes(file), `${file} is not in the ledgerflow tarball`);
    }
    // Compiled code only, but for the starter's templates, which `ledgerflow init` copies as TypeScript.
    assert.deepEqual(engine.filter((f) => f.endsWith('.map') || (f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.startsWith('package/templates/app/'))), []);
    assert.ok(engine.includes('package/templates/app/ledgerflow.config.ts'), 'the starter ships');
    assert.deepEqual(engine.filter((f) => /^package\/(examples|test|client\/)/.test(f)), []);
    const installed = join(app, 'node_modules', 'ledgerflow');
    assert.match(readFileSync(join(installed, 'dist', 'bin', 'ledgerflow.js'), 'utf8'), /^#!\/usr\/bin\/env node\n/);

    const client = list(clientTarball);
    assert.deepEqual(client.sort(), ['package/README.md', 'package/dist/index.browser.mjs', 'package/dist/index.cjs', 'package/dist/index.d.cts', 'package/dist/index.d.mts', 'package/dist/index.mjs', 'package/package.json']);
    const manifest = JSON.parse(readFileSync(join(clientApp, 'node_modules', '@ledgerflow', 'client', 'package.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual([manifest.dependencies, manifest.peerDependencies], [undefined, undefined]);
  });

  it('type-checks the app strictly through its own AppRouter, a wrong input being a compile error', async () => {
    writeFileSync(join(app, 'tsconfig.json'), strictTsconfig(['ledgerflow.config.ts', 'scenario.ts', 'stack-check.ts']));
    const check = await timed('tsc of the app', () => run(process.execPath, [tsc, '-p', 'tsconfig.json'], app));
    assert.equal(check.code, 0, `the app does not type-check:\n${check.out}${check.err}`);

    // The same wrong inputs without their @ts-expect-error: tsc names each.
    writeFileSync(join(app, 'wrong.ts'), libraryApp['scenario.ts']!.replace(/\/\/ @ts-expect-error .*\n/g, ''));
    writeFileSync(join(app, 'tsconfig.wrong.json'), strictTsconfig(['wrong.ts']));
    const wrong = await run(process.execPath, [tsc, '-p', 'tsconfig.wrong.json'], app);
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.out, /wrong\.ts\(\d+,\d+\): error TS2322: Type 'number' is not assignable to type 'string'/);
    assert.match(wrong.out, /wrong\.ts\(\d+,\d+\): error TS2339: Property 'rename' does not exist/);
    assert.equal(wrong.out.match(/error TS/g)?.length, 2, wrong.out);
  });

  it('runs the app with `ledgerflow dev` from the installed package: commands, minVersion, a subscription, its query, a rule over another aggregate', async () => {
    // Its own process group, so the after hook can end the worker, projector and API with it.
    dev = spawn(join(app, 'node_modules', '.bin', 'ledgerflow'), ['dev'], { cwd: app, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    dev.stdout!.on('data', (chunk: Buffer) => (devOutput += chunk.toString()));
    dev.stderr!.on('data', (chunk: Buffer) => (devOutput += chunk.toString()));
    await timed('ledgerflow dev until "Ledgerflow is up"', () =>
      eventually(async () => {
        if (dev!.exitCode !== null) throw new Error(`ledgerflow dev exited ${dev!.exitCode}:\n${devOutput}`);
        return devOutput.includes('Ledgerflow is up') ? true : undefined;
      }, 240_000, `ledgerflow dev up (output so far:\n${devOutput})`).catch((error: Error) => assert.fail(`${error.message}\n${devOutput}`)),
    );
    assert.match(devOutput, new RegExp(`using the Temporal server at ${temporalServer!.address.replace(/\./g, '\\.')}`));
    assert.match(devOutput, /each aggregate is a workflow: member:<id>/);

    const result = await timed('the scenario through @ledgerflow/client', () => run(process.execPath, ['--import', 'tsx', 'scenario.ts'], app, env));
    assert.equal(result.code, 0, `the scenario failed:\n${result.out}\n${result.err}\n--- dev:\n${devOutput}`);
    const report = JSON.parse(result.out) as Record<string, any>;
    assert.match(report.lent.commandId, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'the client made a UUIDv7 (time-ordered) commandId');
    assert.deepEqual([report.lent.version, report.lent.events[0].type, report.lent.events[0].payload], [2, 'BookLent', { memberId: ids.MEMBER_ID, memberVersion: 1 }]);
    assert.deepEqual(report.retried, report.lent, 'the same commandId answers the same outcome');
    assert.deepEqual(report.read, { bookId: ids.BOOK_ID, title: 'Dune', author: 'Frank Herbert', borrower: ids.MEMBER_ID, lends: 1, version: 2 });
    assert.deepEqual(report.onLoan.map((b: { bookId: string }) => b.bookId).sort(), [ids.BOOK_ID, ids.OTHER_BOOK_ID].sort());
    assert.deepEqual([report.returned.borrower, report.returned.version], [null, 3]);
    assert.deepEqual(report.member, { memberId: ids.MEMBER_ID, name: 'Ada', status: 'active', version: 1 });
    assert.equal(report.suspendedLend, 'UNPROCESSABLE_CONTENT:MEMBER_SUSPENDED');
    assert.equal(report.strangerLend, 'UNPROCESSABLE_CONTENT:NOT_A_MEMBER');
    assert.equal(report.badInput, 'BAD_REQUEST:-');
    assert.equal(report.noToken, 'UNAUTHORIZED:-');
    assert.deepEqual(report.after.map((b: { bookId: string }) => b.bookId), [ids.OTHER_BOOK_ID]);
  });

  it('serves the projection console from the installed package: its page, style and script, as they are in the repository', async () => {
    const installed = join(app, 'node_modules', 'ledgerflow', 'dist', 'api', 'console');
    for (const [path, file, type] of [
      ['/console', 'index.html', /^text\/html/],
      ['/console/console.css', 'console.css', /^text\/css/],
      ['/console/console.js', 'console.js', /^text\/javascript/],
    ] as const) {
      assert.ok(existsSync(join(installed, file)), `${file} ships in the package`);
      const response = await fetch(`${apiUrl}${path}`);
      assert.equal(response.status, 200, path);
      assert.match(response.headers.get('content-type') ?? '', type, path);
      assert.match(response.headers.get('content-security-policy') ?? '', /script-src 'self'/, path);
      assert.equal(await response.text(), readFileSync(join(repo, 'api', 'console', file), 'utf8'), `${path} is the repository's ${file}`);
    }
  });

  it('rebuilds the books projection with `ledgerflow rebuild` and serves the same documents from the new generation', async () => {
    assert.ok(devOutput.includes('Ledgerflow is up'), 'needs the previous test');
    const before = await run(process.execPath, ['--import', 'tsx', 'scenario.ts', 'read'], app, env);
    assert.equal(before.code, 0, before.err);
    const rebuild = await timed('ledgerflow rebuild books', () => run(join(app, 'node_modules', '.bin', 'ledgerflow'), ['rebuild', 'books', '--json'], app, env));
    assert.equal(rebuild.code, 0, `${rebuild.out}\n${rebuild.err}`);
    const done = JSON.parse(rebuild.out.trim().split('\n').pop()!) as { projection: string; generation: number; previousGeneration: number | null };
    assert.equal(done.projection, 'books');
    assert.ok(done.generation > (done.previousGeneration ?? 0), rebuild.out);
    const afterRebuild = await run(process.execPath, ['--import', 'tsx', 'scenario.ts', 'read'], app, env);
    assert.equal(afterRebuild.code, 0, afterRebuild.err);
    assert.deepEqual(JSON.parse(afterRebuild.out), JSON.parse(before.out));
    assert.deepEqual((JSON.parse(afterRebuild.out) as { onLoan: { bookId: string }[] }).onLoan.map((b) => b.bookId), [ids.OTHER_BOOK_ID]);
  });

  it('shows each aggregate as a workflow in Temporal (<type>:<id>)', async () => {
    const connection = await Connection.connect({ address: temporalServer!.address });
    try {
      const client = new Client({ connection });
      for (const [type, id, version] of [['book', ids.BOOK_ID, 3], ['member', ids.MEMBER_ID, 2]] as const) {
        const description = await client.workflow.getHandle(`${type}:${id}`).describe();
        assert.equal(description.status.name, 'RUNNING', `${type}:${id}`);
        assert.equal(description.taskQueue, names.TEMPORAL_TASK_QUEUE);
        const attributes = description.typedSearchAttributes;
        const value = (name: string) => attributes.getAll().find((pair) => pair.key.name === name)?.value;
        assert.deepEqual([value('AggregateType'), value('AggregateId')], [type, id]);
        // The search attribute follows the version coarsely; the workflow's query answers it exactly.
        assert.equal(await client.workflow.getHandle(`${type}:${id}`).query<number>('version'), version);
        console.log(`# ${type}:${id}: ${description.type}, ${description.status.name}, version ${version}`);
      }
    } finally {
      await connection.close();
    }
  });

  it('runs an e2e test of the app on ledgerflow/testing/stack from the installed package, its own names removed after, and replays its history', async () => {
    const result = await timed('the app on its own test stack', () => run(process.execPath, ['--import', 'tsx', 'stack-check.ts'], app, env));
    assert.equal(result.code, 0, `the stack check failed:\n${result.out}\n${result.err}`);
    const report = JSON.parse(result.out.trim().split('\n').pop()!) as { card: { name: string; status: string; version: number }; failures: unknown[]; taskQueue: string; prefix: string };
    assert.deepEqual([report.card.name, report.card.status, report.card.version], ['Grace', 'active', 1]);
    assert.deepEqual(report.failures, [], 'its history replays with its workflow code');
    assert.notEqual(report.taskQueue, names.TEMPORAL_TASK_QUEUE, 'names of its own, not those of the dev stack');
    const redis = createRedis(loadConfig({}).REDIS_URL, 'package-e2e-check');
    await redis.connect();
    try {
      assert.deepEqual(await redis.keys(`${report.prefix}:*`), [], 'stop() removed its read models');
    } finally {
      await closeRedis(redis);
    }
  });

  it('installs @ledgerflow/client alone under 5 MB, type-checks a call against a declared router, bundles for browsers and talks to the API', async () => {
    const modules = join(clientApp, 'node_modules');
    const bytes = sizeOf(modules);
    const installedPackages = readdirSync(modules).filter((name) => !name.startsWith('.'));
    console.log(`# client-only app: node_modules ${(bytes / MB).toFixed(2)} MB (${bytes} bytes): ${installedPackages.join(', ')}`);
    assert.ok(bytes < 5 * MB, `node_modules is ${(bytes / MB).toFixed(2)} MB`);
    assert.deepEqual(installedPackages, ['@ledgerflow']);

    // A browser app: no @types/node, the DOM lib, only what @ledgerflow/client ships.
    const browserTsconfig = (files: string[]) => strictTsconfig(files, { lib: ['ES2022', 'DOM'], types: [], module: 'ESNext', moduleResolution: 'Bundler' });
    writeFileSync(join(clientApp, 'tsconfig.json'), browserTsconfig(['main.ts']));
    const check = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], clientApp);
    assert.equal(check.code, 0, `the client-only app does not type-check:\n${check.out}${check.err}`);
    // Checked with the declarations too (skipLibCheck off): they stand on their own.
    writeFileSync(join(clientApp, 'tsconfig.libcheck.json'), strictTsconfig(['main.ts'], { lib: ['ES2022', 'DOM'], types: [], module: 'ESNext', moduleResolution: 'Bundler', skipLibCheck: false }));
    const libCheck = await run(process.execPath, [tsc, '-p', 'tsconfig.libcheck.json'], clientApp);
    assert.equal(libCheck.code, 0, `with skipLibCheck off:\n${libCheck.out}`);
    writeFileSync(join(clientApp, 'wrong.ts'), clientOnlyApp['main.ts']!.replace(/\/\/ @ts-expect-error .*\n/, ''));
    writeFileSync(join(clientApp, 'tsconfig.wrong.json'), browserTsconfig(['wrong.ts']));
    const wrong = await run(process.execPath, [tsc, '-p', 'tsconfig.wrong.json'], clientApp);
    assert.match(wrong.out, /wrong\.ts\(\d+,\d+\): error TS2345: [\s\S]*Property 'author' is missing/);
    assert.equal(wrong.out.match(/error TS/g)?.length, 1, wrong.out);

    // The browser bundle: the package's browser build, nothing else.
    const esbuild = require(require.resolve('esbuild', { paths: [join(repo, 'client')] })) as typeof import('esbuild');
    const bundle = await esbuild.build({
      entryPoints: [join(clientApp, 'main.ts')],
      absWorkingDir: clientApp,
      bundle: true,
      platform: 'browser',
      format: 'esm',
      minify: true,
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(bundle.metafile.inputs);
    assert.deepEqual(inputs.sort(), ['main.ts', 'node_modules/@ledgerflow/client/dist/index.browser.mjs']);
    const output = bundle.outputFiles[0]!.text;
    console.log(`# browser bundle of the client-only app: ${(output.length / 1024).toFixed(1)} KB minified`);
    assert.doesNotMatch(output, /@temporalio|rabbitmq|redis|node:|require\(/);

    // Node (the CJS build, with the bundled EventSource ponyfill) against the running API.
    assert.ok(devOutput.includes('Ledgerflow is up'), 'needs the running app');
    const node = await run(process.execPath, ['node-check.cjs'], clientApp, env);
    assert.equal(node.code, 0, `${node.out}\n${node.err}`);
    const seen = JSON.parse(node.out) as { book: { bookId: string; version: number }; first: { id: string; data: { version: number } } };
    assert.deepEqual([seen.book.bookId, seen.book.version], [ids.BOOK_ID, 3]);
    assert.deepEqual([seen.first.id, seen.first.data.version], ['3', 3]);
  });
});
