/** Builds the workflow bundles the production worker runs (npm run build): plain, and with tracing's interceptors. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { workflowTracingModule } from '../infra/temporal-tracing';
import { tracedWorkflowBundlePath, workflowBundlePath } from './worker';
import { runMain } from './main';

async function main() {
  const workflowsPath = require.resolve('../workflows');
  for (const [path, workflowInterceptorModules] of [
    [workflowBundlePath, []],
    [tracedWorkflowBundlePath, [workflowTracingModule]],
  ] as const) {
    const { code } = await bundleWorkflowCode({ workflowsPath, workflowInterceptorModules: [...workflowInterceptorModules], logger: undefined });
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, code);
    console.log(`workflow bundle written to ${path} (${(code.length / 1024).toFixed(0)} KiB)`);
  }
}

runMain(main);
