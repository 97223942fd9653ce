/**
 * `ledgerflow/testing/replay`: the check that a release still runs the aggregates and processes
 * already running. Histories recorded from the app's workflows (Temporal's JSON, as the Web UI
 * and `temporal workflow show --output json` export them) are replayed with the app's workflow
 * code as its worker bundles it; any nondeterminism is a failure.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyFromJSON, historyToJSON, type History } from '@temporalio/common/lib/proto-utils';
import { Worker, type ReplayWorkerOptions } from '@temporalio/worker';
import { bundleOptionsOf } from '../bin/worker';
import { loadApp, type LoadedApp } from '../infra/app-loader';

export type { History };

export interface ReplayFailure {
  /** The history's name (its file, for histories read with `readHistories`). */
  history: string;
  message: string;
}

/** Worker options of the replay beyond the app's workflows (interceptors, sinks). */
export type ReplayOptions = Omit<Partial<ReplayWorkerOptions>, 'workflowsPath' | 'workflowBundle' | 'bundlerOptions'>;

/**
 * Replays each history with the app's current workflow code (its config file, or a loaded app)
 * and answers the ones that fail: none when the release is safe to deploy over them.
 */
export async function replayHistories(app: string | LoadedApp, histories: Record<string, History>, options: ReplayOptions = {}): Promise<ReplayFailure[]> {
  const loaded = typeof app === 'string' ? await loadApp(app) : app;
  const failures: ReplayFailure[] = [];
  const iterable = Object.entries(histories).map(([workflowId, history]) => ({ workflowId, history }));
  for await (const result of Worker.runReplayHistories({ ...bundleOptionsOf(loaded), ...options }, iterable)) {
    if (result.error) failures.push({ history: result.workflowId, message: result.error.message });
  }
  return failures;
}

/** Every `*.json` history under `dir` (subfolders too), by its path relative to `dir`. */
export function readHistories(dir: string): Record<string, History> {
  const files = (readdirSync(dir, { recursive: true }) as string[]).filter((file) => file.endsWith('.json')).sort();
  return Object.fromEntries(files.map((file) => [file, historyFromJSON(JSON.parse(readFileSync(join(dir, file), 'utf8')))]));
}

/** Writes each history to `<dir>/<name>.json`; answers the files written. */
export function writeHistories(histories: Record<string, History>, dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  return Object.entries(histories).map(([name, history]) => {
    const file = join(dir, `${name}.json`);
    writeFileSync(file, historyToJSON(history) + '\n');
    return file;
  });
}
