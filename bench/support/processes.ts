/**
 * Child processes the benchmark runs (worker, projector, API, the bare Temporal worker), started
 * the way they are deployed (`node --import tsx <entry>` with the configuration as environment
 * variables), their output kept in a log file, their resident memory readable from /proc.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { logsDir, repoRoot } from './paths';

export interface ChildService {
  name: string;
  pid: number;
  logFile: string;
  /** Whether it is still running. */
  running(): boolean;
  /** Resident set size in MB, or null once it has exited. */
  rssMb(): number | null;
  /** SIGTERM (the entry points stop cleanly on it), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

let started = 0;

/** `nodeArgs` go before the entry, e.g. `--cpu-prof` (which NODE_OPTIONS refuses). */
export function spawnService(name: string, entry: string, env: NodeJS.ProcessEnv, nodeArgs: readonly string[] = []): ChildService {
  mkdirSync(logsDir, { recursive: true });
  const logFile = join(logsDir, `${String(++started).padStart(2, '0')}-${name}.log`);
  const fd = openSync(logFile, 'w');
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', entry], { cwd: repoRoot, env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    name,
    pid: child.pid!,
    logFile,
    running,
    rssMb: () => (running() ? rssMbOf(child.pid!) : null),
    async stop(graceMs = 15_000) {
      if (!running()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** VmRSS of a process in MB (Linux); null where /proc is not available. */
export function rssMbOf(pid: number): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1]);
    return Number.isFinite(kb) ? Math.round(kb / 102.4) / 10 : null;
  } catch {
    return null;
  }
}

export const ownRssMb = () => Math.round(process.memoryUsage.rss() / 1024 / 102.4) / 10;

/** The last lines of a service's log, to explain why it died. */
export function tailOf(service: ChildService, lines = 20): string {
  try {
    return readFileSync(service.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
