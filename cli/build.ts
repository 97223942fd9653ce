/** `ledgerflow build`: the app's workflow bundles, made ahead of time for production images. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { LoadedApp } from '../infra/app-loader';
import { bundleApp, tracedBundlePathOf } from '../bin/worker';

/** Writes `out` (plain) and its `.traced.js` twin (with tracing's workflow interceptors, run while tracing is on). */
export async function buildWorkflowBundles(app: LoadedApp, out: string): Promise<void> {
  const plain = resolve(out);
  for (const [path, traced] of [
    [plain, false],
    [tracedBundlePathOf(plain), true],
  ] as const) {
    const { code } = await bundleApp(app, { traced });
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, code);
    console.log(`workflow bundle written to ${path} (${(code.length / 1024).toFixed(0)} KiB)`);
  }
}
