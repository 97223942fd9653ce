/** What the figures were measured on: they mean little without it. */
import { execFileSync } from 'node:child_process';
import { cpus, freemem, loadavg, totalmem, platform, release } from 'node:os';
import { repoRoot } from './paths';

export interface Machine {
  cores: number;
  cpuModel: string;
  memoryGb: number;
  freeMemoryGb: number;
  /** 1-minute load average when the run started: a busy machine's figures are smoke figures. */
  loadAverage: number;
  os: string;
  node: string;
  commit: string | null;
}

export function describeMachine(): Machine {
  const gb = (bytes: number) => Math.round((bytes / 1024 ** 3) * 10) / 10;
  let commit: string | null = null;
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    // not a git checkout
  }
  return {
    cores: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGb: gb(totalmem()),
    freeMemoryGb: gb(freemem()),
    loadAverage: Math.round(loadavg()[0]! * 100) / 100,
    os: `${platform()} ${release()}`,
    node: process.version,
    commit,
  };
}
