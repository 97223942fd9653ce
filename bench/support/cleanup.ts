/**
 * Everything a run starts registers how to stop it here; `run` stops all of it, newest first,
 * whether the run finished, failed or was interrupted (Ctrl-C), so no server, process, queue or
 * key outlives the benchmark.
 */
export interface Cleanup {
  /**
   * Registers a stop step; returns a function that runs that step early (and only once). Once
   * cleaning up has begun (Ctrl-C while the run goes on), a step is run at once instead: whatever
   * the run still starts is stopped, never left behind.
   */
  defer(label: string, stop: () => Promise<unknown> | unknown): () => Promise<void>;
  run(): Promise<void>;
}

export function createCleanup(log: (line: string) => void = console.error): Cleanup {
  const steps: { label: string; stop: () => Promise<unknown> | unknown; done: boolean }[] = [];
  const runStep = async (step: (typeof steps)[number]) => {
    if (step.done) return;
    step.done = true;
    try {
      await step.stop();
    } catch (error) {
      log(`cleanup: ${step.label} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  let closing = false;
  return {
    defer(label, stop) {
      const step = { label, stop, done: false };
      if (closing) {
        void runStep(step);
        return () => Promise.resolve();
      }
      steps.push(step);
      return () => runStep(step);
    },
    async run() {
      closing = true;
      // Newest first; steps added meanwhile were run by defer().
      for (const step of steps.slice().reverse()) await runStep(step);
    },
  };
}

/** Runs `main` with a cleanup that also runs on SIGINT/SIGTERM before the process exits. */
export async function withCleanup<T>(main: (cleanup: Cleanup) => Promise<T>): Promise<T> {
  const cleanup = createCleanup();
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    console.error(`\n${signal}: stopping everything the benchmark started...`);
    void cleanup.run().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // A reader that goes away (`| head`) must not end the run before it cleans up: EPIPE on
  // stdout would otherwise be an uncaught error.
  const ignore = () => {};
  process.stdout.on('error', ignore);
  process.stderr.on('error', ignore);
  try {
    return await main(cleanup);
  } finally {
    await cleanup.run();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.stdout.off('error', ignore);
    process.stderr.off('error', ignore);
  }
}
