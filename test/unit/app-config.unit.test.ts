/** An app's config: what defineConfig accepts and refuses, what the engine derives from it, how it is loaded. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, defineConfig, defineModule, defineProjection } from 'ledgerflow';
import { bundleOptionsOf } from '../../bin/worker';
import { aggregatesOf, projectionsOf } from '../../core/app';
import { loadApp, workflowEntryOf } from '../../infra/app-loader';
import { ledgerConfigPath, testAppPath } from '../support/apps';
import { accountModule } from '../support/domains/ledger/account';
import { holderModule } from '../support/domains/ledger/holder';

const quiet = { info() {}, warn() {}, error() {} };

describe('defineConfig', () => {
  it('refuses a module registered under another name than its aggregate’s', () => {
    assert.throws(
      () => defineConfig({ modules: { wallet: accountModule } }),
      (error: unknown) => error instanceof ConfigError && /module 'wallet' holds aggregate 'account'/.test(error.message),
    );
  });

  it('refuses a process that is not a workflow function, or takes the aggregate workflow’s name', () => {
    assert.throws(() => defineConfig({ modules: {}, processes: { checkout: 'checkout' as never } }), /process 'checkout' is not a workflow function/);
    assert.throws(() => defineConfig({ modules: {}, processes: { aggregateWorkflow: async () => undefined } }), /takes the name of the engine's aggregate workflow/);
  });

  it('gives the engine every aggregate once, and every projection once (modules’ and its own)', () => {
    const audit = defineProjection<{ id: string }, typeof accountModule.aggregate.events>({
      name: 'audit',
      version: 1,
      source: accountModule.aggregate,
      evolve: (_doc, event) => ({ id: event.aggregateId }),
    });
    const config = defineConfig({ modules: { account: accountModule, holder: holderModule }, projections: [audit, accountModule.readModel] });
    assert.deepEqual(Object.keys(aggregatesOf(config)), ['account', 'holder']);
    assert.equal(aggregatesOf(config).account, accountModule.aggregate);
    assert.deepEqual(projectionsOf(config).map((p) => p.name), ['accounts', 'holders', 'audit']);
    assert.deepEqual(Object.keys(config.processes), []);
    assert.deepEqual(config.activities({ log: quiet, env: {} }), {});
  });

  it('keeps a module’s extra projections beside its read model', () => {
    const second = defineProjection<{ id: string }, typeof accountModule.aggregate.events>({
      name: 'account-ids',
      version: 1,
      source: accountModule.aggregate,
      evolve: (_doc, event) => ({ id: event.aggregateId }),
    });
    const config = defineConfig({ modules: { account: defineModule({ aggregate: accountModule.aggregate, readModel: accountModule.readModel, projections: [second] }) } });
    assert.deepEqual(projectionsOf(config).map((p) => p.name), ['accounts', 'account-ids']);
  });
});

describe('loading an app’s config', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ledgerflow-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('loads an app’s TypeScript config as it is: its modules, processes and activities', async () => {
    const ledger = await loadApp(ledgerConfigPath);
    assert.equal(ledger.path, ledgerConfigPath);
    assert.deepEqual(Object.keys(ledger.config.modules).sort(), ['account', 'holder']);
    assert.deepEqual(Object.keys(ledger.config.processes), []);
    const payouts = await loadApp(testAppPath('payouts'));
    assert.deepEqual(Object.keys(payouts.config.processes), ['payoutProcess']);
    assert.deepEqual(Object.keys(payouts.config.activities({ log: quiet, env: {} })), ['sendPayout']);
  });

  it('says what is missing: no file, no default export, a file that throws', async () => {
    await assert.rejects(
      loadApp('nowhere.config.ts', dir),
      (error: unknown) => error instanceof ConfigError && /no Ledgerflow config at .*nowhere\.config\.ts/.test(error.message) && /ledgerflow init/.test(error.message),
    );
    writeFileSync(join(dir, 'empty.config.ts'), 'export const x = 1;\n');
    await assert.rejects(loadApp('empty.config.ts', dir), /must `export default defineConfig/);
    writeFileSync(join(dir, 'broken.config.ts'), "throw new Error('boom');\n");
    await assert.rejects(loadApp('broken.config.ts', dir), /broken\.config\.ts failed to load: boom/);
  });

  it('writes the workflow entry the worker bundles: the aggregate workflow and each process by name', async () => {
    const app = await loadApp(testAppPath('payouts'));
    const entry = workflowEntryOf(app, dir);
    const source = readFileSync(entry.workflowsPath, 'utf8');
    assert.match(source, /exports.aggregateWorkflow = aggregateWorkflowFor\(config\);/);
    assert.match(source, /exports.payoutProcess = config\.processes\["payoutProcess"\];/);
    assert.ok(source.includes(JSON.stringify(testAppPath('payouts'))));
    assert.ok(entry.ignoreModules.includes('node:fs') && entry.ignoreModules.includes('fs'), 'Node built-ins stay out of the sandbox');
  });

  it('bundles with zod loaded once per worker, and nothing else shared between workflows', async () => {
    const app = await loadApp(ledgerConfigPath);
    // Only zod's warm-up module (workflow-bundle.unit checks the bundle really preloads it): none of the app's.
    const preloaded = bundleOptionsOf(app).bundlerOptions.preloadModules;
    assert.deepEqual(preloaded.map((path) => basename(path)), ['zod-preload.ts']);
  });
});
