/** `ledgerflow build`: the app's workflow bundles, made ahead of time for production images. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { LoadedApp } from '../infra/app-loader';
import { workflowTracingModule } from '../infra/temporal-tracing';
import { bundleOptionsOf, tracedBundlePathOf } from '../bin/worker';

/** Writes `out` (plain) and its `.traced.js` twin (with tracing's workflow interceptors, run while tracing is on). */
export async function buildWorkflowBundles(app: LoadedApp, out: string): Promise<void> {
  const { workflowsPath, bundlerOptions } = bundleOptionsOf(app);
  const plain = resolve(out);
  for (const [path, workflowInterceptorModules] of [
    [plain, []],
    [tracedBundlePathOf(plain), [workflowTracingModule]],
  ] as const) {
    const { code } = await bundleWorkflowCode({ workflowsPath, ...bundlerOptions, workflowInterceptorModules: [...workflowInterceptorModules], logger: undefined });
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, code);
    console.log(`workflow bundle written to ${path} (${(code.length / 1024).toFixed(0)} KiB)`);
  }
}
