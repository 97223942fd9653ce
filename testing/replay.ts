/**
 * `ledgerflow/testing/replay`: the check that a release still runs the aggregates and processes
 * already running. Histories recorded from the app's workflows (Temporal's JSON, as the Web UI
 * and `temporal workflow show --output json` export them) are replayed with the app's workflow
 * code as its worker bundles it; any nondeterminism is a failure.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyFromJSON, historyToJSON, type History } from '@temporalio/common/lib/proto-utils';
import { temporal } from '@temporalio/proto';
import { Worker, type ReplayWorkerOptions } from '@temporalio/worker';
import { Resource } from '@opentelemetry/resources';
import { NoopSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { bundleApp } from '../bin/worker';
import { workflowSpanSinks } from '../infra/temporal-tracing';
import { loadApp, type LoadedApp } from '../infra/app-loader';

export type { History };

export interface ReplayFailure {
  /** The history's name (its file, for histories read with `readHistories`). */
  history: string;
  /** The workflow code it failed with: the worker's with tracing off, or on (its interceptors bundled in). */
  tracing: 'off' | 'on';
  message: string;
}

/** Worker options of the replay beyond the app's workflows (interceptors, sinks). */
export type ReplayOptions = Omit<Partial<ReplayWorkerOptions>, 'workflowsPath' | 'workflowBundle' | 'bundlerOptions'> & {
  /**
   * Which of the worker's two workflow bundles to replay with: tracing off, tracing on (with
   * OpenTelemetry's workflow interceptors), or both (the default: a worker may run either).
   */
  tracing?: 'off' | 'on' | 'both';
};


/**
 * Replays each history with the app's current workflow code (its config file, or a loaded app)
 * and answers the ones that fail: none when the release is safe to deploy over them. A history
 * whose first workflow task never completed (a run fetched the moment it started) holds no
 * decision of its code and is passed over.
 */
export async function replayHistories(app: string | LoadedApp, histories: Record<string, History>, options: ReplayOptions = {}): Promise<ReplayFailure[]> {
  const { tracing = 'both', ...workerOptions } = options;
  const loaded = typeof app === 'string' ? await loadApp(app) : app;
  const failures: ReplayFailure[] = [];
  for (const mode of tracing === 'both' ? (['off', 'on'] as const) : [tracing]) {
    // Each under the workflow id it ran with (a process's guard is named after it); failures by the history's name.
    // A run whose first workflow task has not completed holds nothing its code decided (and the
    // SDK's replayer waits forever on it): there is nothing to replay.
    const named = Object.entries(histories)
      .filter(([, history]) => hasCompletedTask(history))
      .map(([name, history]) => ({ name, workflowId: recordedWorkflowId(history) ?? name, history }));
    const iterable = named.map(({ workflowId, history }) => ({ workflowId, history }));
    let replayed = 0;
    // Bundled as the worker bundles it (with tracing's interceptors when on); a traced bundle's spans are never exported on replay.
    const workflowBundle = await bundleApp(loaded, { traced: mode === 'on' });
    const replayOptions = { workflowBundle, ...(mode === 'on' && { sinks: workflowSpanSinks(new NoopSpanProcessor(), Resource.empty()) }), ...workerOptions };
    for await (const result of Worker.runReplayHistories(replayOptions, iterable)) {
      const { name } = named[replayed++] ?? { name: result.workflowId };
      if (result.error) failures.push({ history: name, tracing: mode, message: result.error.message });
    }
  }
  return failures;
}

const hasCompletedTask = (history: History): boolean =>
  (history.events ?? []).some((event) => event.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED);

/** The workflow id a history's run was started with (recorded in its first event). */
const recordedWorkflowId = (history: History): string | undefined => history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowId ?? undefined;

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
