/**
 * How every entry point runs: errors end the process with a message; SIGINT/SIGTERM stop it
 * cleanly; a stray rejection is logged and the process keeps serving; an uncaught exception
 * (state may be broken) stops it cleanly (requests in flight finish) and exits 1, so a
 * supervisor restarts it.
 */
import { createLogger } from '../infra/logger';

let stop: (() => Promise<unknown>) | undefined;
let stopping = false;

/** Past this, a stop that hangs (a service away that its clients keep waiting for) gives up. */
const stopLimitMs = 60_000;

async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  setTimeout(() => {
    console.error(`still stopping after ${stopLimitMs / 1000}s: exiting without finishing`);
    process.exit(code || 1);
  }, stopLimitMs).unref();
  try {
    await stop?.();
  } finally {
    process.exit(code);
  }
}

/** Start-up failures whose message says everything (a bad setting, a cluster not set up). */
const expectedAtStart = new Set(['ConfigError', 'ClusterNotReadyError', 'WorkflowBundleError']);

export function runMain(main: () => Promise<void>, name = 'ledgerflow'): void {
  const log = createLogger(name);
  process.on('unhandledRejection', (reason) => {
    log.error({ err: reason }, 'unhandled rejection (a bug): logged, still serving');
  });
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, 'uncaught exception (a bug): finishing requests in flight, then exiting');
    void shutdown(1);
  });
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    // A problem with the configuration or the cluster is said in full above; anything else keeps its stack.
    if (error instanceof Error && !expectedAtStart.has(error.name)) log.fatal({ err: error }, `${name} failed to start`);
    process.exit(1);
  });
}

/** What to do before exiting: on SIGINT/SIGTERM (exit 0) and after an uncaught exception (exit 1). */
export function onShutdown(handler: () => Promise<unknown>): void {
  stop = handler;
  process.once('SIGINT', () => void shutdown(0));
  process.once('SIGTERM', () => void shutdown(0));
}
