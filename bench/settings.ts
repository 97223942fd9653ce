/**
 * What a benchmark run may be told, from environment variables, parsed once with a message per
 * bad value. The defaults keep `make bench` under ten minutes on a 2-core machine.
 */
import { resolve } from 'node:path';
import { z } from 'zod';

const positive = z.coerce.number().positive();
const count = z.coerce.number().int().positive();
const list = <T extends string>(values: readonly [T, ...T[]]) =>
  z
    .string()
    .transform((value) => value.split(',').map((v) => v.trim()).filter(Boolean))
    .pipe(z.array(z.enum(values)).min(1));

export const phases = ['ceiling', 'ledgerflow', 'replay', 'publish'] as const;
export const deployments = ['processes', 'in-process'] as const;
export type Phase = (typeof phases)[number];
export type DeploymentName = (typeof deployments)[number];

const schema = z.object({
  /** How long each measured scenario sends for. */
  BENCH_SECONDS: positive.default(10),
  /** Concurrent senders in every multi-sender scenario, the ceiling's and Ledgerflow's alike. */
  BENCH_CONCURRENCY: count.default(50),
  /** Existing aggregates (and bare workflows) the warm and cold scenarios address. */
  BENCH_POOL: count.default(1000),
  /** Aggregates the worker should have touched when its resident memory is read. */
  BENCH_RSS_AGGREGATES: count.default(10_000),
  /** Most time spent touching aggregates for the memory reading (it reports how many it reached). */
  BENCH_RSS_SECONDS: positive.default(45),
  /** Most time spent creating the pool, before the warm scenarios. */
  BENCH_SETUP_SECONDS: positive.default(120),
  /** Most time to wait for `wait: 'none'` commands to become visible in the read model. */
  BENCH_DRAIN_SECONDS: positive.default(60),
  /** Open-loop rate of the latency scenario; by default half the warm scenario's rate. */
  BENCH_LATENCY_RATE: positive.optional(),
  /** Events seeded into the log for the replay (rebuild) measurement. */
  BENCH_REPLAY_EVENTS: count.default(50_000),
  /** Events per publishEvents call in the publish measurement (the aggregate path publishes 1 per command). */
  BENCH_PUBLISH_BATCH: count.default(1),
  BENCH_PHASES: list(phases).default([...phases]),
  BENCH_DEPLOYMENTS: list(deployments).default([...deployments]),
  /** A folder: every process the benchmark spawns writes a V8 CPU profile there (npm run bench:profile reads them). */
  BENCH_CPU_PROFILE: z.string().min(1).optional(),
  /** When set, BENCHMARKS.md's "Before and after" table gains a row with this label. */
  BENCH_RECORD: z.string().min(1).optional(),
});

export type Settings = z.infer<typeof schema>;

/** Node flags for the processes a run spawns. */
export const nodeArgsOf = (settings: Settings): string[] =>
  settings.BENCH_CPU_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${resolve(settings.BENCH_CPU_PROFILE)}`] : [];

export function loadSettings(env: Record<string, string | undefined> = process.env): Settings {
  const relevant = Object.fromEntries(Object.keys(schema.shape).map((key) => [key, env[key] === '' ? undefined : env[key]]));
  const result = schema.safeParse(relevant);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => `  ${issue.path.join('.')}=${JSON.stringify(env[String(issue.path[0])])}: ${issue.message}`);
  throw new Error(`invalid benchmark settings:\n${lines.join('\n')}`);
}
