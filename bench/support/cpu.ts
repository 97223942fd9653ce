/**
 * CPU time per process over a scenario (Linux /proc): which process a command's time goes to
 * (Temporal server, worker, API, projector, the driver, RabbitMQ, Redis), as CPU ms per command.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ; 100 on Linux). */
const ticksPerSecond = 100;

/** User + system CPU seconds a process has used, or null when it cannot be read. */
export function cpuSecondsOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at field 3.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
  } catch {
    return null;
  }
}

/** The oldest process whose name is `comm` and whose command line contains `marker` (the machine's service, not a test's). */
export function findService(comm: string, marker = ''): number | null {
  let found: number | null = null;
  try {
    for (const entry of readdirSync('/proc')) {
      const pid = Number(entry);
      if (!Number.isInteger(pid)) continue;
      try {
        if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== comm) continue;
        if (marker && !readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker)) continue;
        if (found === null || pid < found) found = pid;
      } catch {
        // exited meanwhile
      }
    }
  } catch {
    // no /proc
  }
  return found;
}

/** RabbitMQ's and Redis's processes, for CPU accounting; they may serve others too (said in the report). */
export function sharedServices(redisUrl: string): Record<string, number> {
  const port = new URL(redisUrl).port || '6379';
  const services: Record<string, number | null> = { rabbitmq: findService('beam.smp'), redis: findService('redis-server', `:${port}`) };
  return Object.fromEntries(Object.entries(services).filter((e): e is [string, number] => e[1] !== null));
}

export type CpuSample = Record<string, number>;

/** CPU seconds of each named process now. */
export function sampleCpu(pids: Record<string, number>): CpuSample {
  return Object.fromEntries(Object.entries(pids).flatMap(([name, pid]) => {
    const seconds = cpuSecondsOf(pid);
    return seconds === null ? [] : [[name, seconds]];
  }));
}

/** CPU ms per operation, per process, between two samples. */
export function cpuPerOp(before: CpuSample, after: CpuSample, ops: number): Record<string, number> {
  if (ops <= 0) return {};
  return Object.fromEntries(
    Object.keys(after)
      .filter((name) => name in before)
      .map((name) => [name, Math.round(((after[name]! - before[name]!) * 1000 * 10) / ops) / 10]),
  );
}
