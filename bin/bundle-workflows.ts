/** Builds the workflow bundle the production worker runs (npm run build). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { workflowBundlePath } from './worker';
import { runMain } from './main';

async function main() {
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), logger: undefined });
  mkdirSync(dirname(workflowBundlePath), { recursive: true });
  writeFileSync(workflowBundlePath, code);
  console.log(`workflow bundle written to ${workflowBundlePath} (${(code.length / 1024).toFixed(0)} KiB)`);
}

runMain(main);
