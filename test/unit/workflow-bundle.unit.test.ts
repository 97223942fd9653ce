/**
 * The workflow bundle built from an app: zod preloaded once per worker, and one copy of it.
 * Without a preload that really requires zod, every new workflow evaluates zod again (webpack
 * once dropped the preload's require because zod declares no side effects); a compiled engine
 * once bundled zod's CommonJS build beside the app's ES one.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { bundleWorkflowCode } from '@temporalio/worker';
import { loadApp, type LoadedApp } from '../../infra/app-loader';
import * as fromSource from '../../bin/worker';
import { bundleApp, WorkflowBundleError } from '../../bin/worker';
import { loadLedger, repoRoot } from '../support/apps';

const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} };
const compiledWorker = join(__dirname, '..', '..', 'dist', 'bin', 'worker.js');

async function bundleOf(app: LoadedApp, worker: typeof fromSource) {
  const { workflowsPath, bundlerOptions } = worker.bundleOptionsOf(app);
  const { code } = await bundleWorkflowCode({ workflowsPath, ...bundlerOptions, logger: quiet });
  return code;
}

function assertZodOnceAndPreloaded(code: string) {
  const preload = /exports\.preloadModules = function preloadModules\(\) \{([^}]*)\}/.exec(code)?.[1] ?? '';
  assert.match(preload, /__webpack_require__\([^)]*zod-preload/, 'the preload requires the zod warm-up module');
  const zodFiles = [...new Set(code.match(/"[^"\n]*node_modules\/zod\/[^"\n]+\.c?js"/g))];
  assert.ok(zodFiles.length > 0, 'zod is in the bundle');
  const stems = zodFiles.map((file) => file.replace(/.*node_modules\/zod\//, '').replace(/\.c?js"$/, ''));
  assert.deepEqual(stems.filter((stem, i) => stems.indexOf(stem) !== i), [], 'each file of zod once (not its CommonJS and ES builds both)');
}

describe('the workflow bundle of an app', () => {
  it('preloads zod and holds one copy of it (engine from source)', async () => {
    assertZodOnceAndPreloaded(await bundleOf(await loadLedger(), fromSource));
  });

  it('preloads zod and holds one copy of it (compiled engine, as installed apps run it)', { skip: !existsSync(compiledWorker) && 'needs npm run build' }, async () => {
    assertZodOnceAndPreloaded(await bundleOf(await loadLedger(), require(compiledWorker) as typeof fromSource));
  });

  // An app's package.json may say it is CommonJS (npm init -y writes "type": "commonjs") or an ES
  // module: the generated entry bundles either way.
  for (const type of ['commonjs', 'module'] as const) {
    it(`bundles an app whose package.json says "type": "${type}"`, async (t) => {
      const dir = join(repoRoot, 'test', `.app-${type}-${process.pid}`);
      mkdirSync(dir, { recursive: true });
      t.after(() => rmSync(dir, { recursive: true, force: true }));
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `app-${type}`, private: true, type }));
      writeFileSync(join(dir, 'ledgerflow.config.ts'), "export { default } from '../support/domains/ledger.config';\n");
      assertZodOnceAndPreloaded(await bundleOf(await loadApp(join(dir, 'ledgerflow.config.ts')), fromSource));
    });
  }

  it('says why an app’s workflows fail to bundle: webpack’s own error, naming the module', async (t) => {
    // A package Node resolves (its "node" condition) but a workflow bundle cannot: no "node" there.
    const dir = join(repoRoot, 'test', `.app-broken-${process.pid}`);
    mkdirSync(join(dir, 'node_modules', 'node-only'), { recursive: true });
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'node_modules', 'node-only', 'package.json'), JSON.stringify({ name: 'node-only', exports: { node: './index.js' } }));
    writeFileSync(join(dir, 'node_modules', 'node-only', 'index.js'), 'exports.rate = 1;\n');
    writeFileSync(join(dir, 'ledgerflow.config.ts'), "import { rate } from 'node-only';\nimport config from '../support/domains/ledger.config';\nexport default { ...config, rate };\n");
    const app = await loadApp(join(dir, 'ledgerflow.config.ts'));
    await assert.rejects(bundleApp(app), (error: unknown) => {
      assert.ok(error instanceof WorkflowBundleError);
      assert.match(error.message, /failed to bundle:\nERROR in .*ledgerflow\.config\.ts/);
      assert.match(error.message, /Module not found: .*node-only/);
      return true;
    });
  });
});
