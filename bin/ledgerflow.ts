#!/usr/bin/env node
/**
 * The admin CLI: projection status, parked events, re-drive, rebuild with progress, commands,
 * and setup of an existing cluster. `ledgerflow --help` lists the commands, `ledgerflow <command>
 * --help` their arguments; every command takes --json. It never waits forever for a service:
 * Redis and Temporal answer within --timeout (5 s) or the command fails saying which.
 * Exit codes: 0 done, 1 failed, 2 usage (checked before anything is connected).
 */
import { z } from 'zod';
import { commandHelp, integerOption, parseInvocation, usage, UsageError, type Invocation } from '../cli/args';
import { formatGaps, formatParked, formatRebuild, formatSetup, formatStatus, progressBar } from '../cli/format';
import { createCommandBus } from '../commands/bus';
import { buildCommand } from '../commands/envelope';
import type { AnyAggregate } from '../core/aggregate';
import { loadConfig, type Config } from '../core/config';
import { aggregatesOf, projectionsOf, type AnyAppConfig } from '../core/app';
import { loadApp, type LoadedApp } from '../infra/app-loader';
import { runDev } from '../cli/dev';
import { formatInit, initApp } from '../cli/init';
import { buildWorkflowBundles } from '../cli/build';
import { setupCluster } from '../infra/setup';
import { connectTemporalLazily } from '../infra/temporal';
import { closeRedis, createRedis, type Redis } from '../infra/redis';
import { createProjectionAdmin, UnknownProjectionError, type ProjectionAdmin } from '../projectors/admin';
import { runMain } from './main';
import { sleep, within } from '../infra/deadline';

type Run = Extract<Invocation, { kind: 'run' }>;

const print = (run: Run, value: unknown, text: () => string) => console.log(run.json ? JSON.stringify(value) : text());

async function connectRedis(url: string, timeoutMs: number): Promise<Redis> {
  const redis = createRedis(url, 'ledgerflow-cli', undefined, { failFast: true });
  try {
    await within(timeoutMs, redis.connect(), new Error(`Redis at ${new URL(url).host} did not answer within ${timeoutMs / 1000}s: is it running?`));
    return redis;
  } catch (error) {
    redis.destroy();
    throw error;
  }
}

/** The projection named on the command line: known from the app's config, so a typo is a usage error. */
function projectionArg(app: AnyAppConfig, run: Run): string {
  const name = run.args[0]!;
  const known = projectionsOf(app).map((p) => p.name);
  if (!known.includes(name)) throw new UsageError(new UnknownProjectionError(name, known).message, run.command);
  return name;
}

/** Every call answers within the timeout too: a Redis that took the connection and then stalls does not hang the CLI. */
function bounded(admin: ProjectionAdmin, ms: number, host: string): ProjectionAdmin {
  const message = `Redis at ${host} did not answer within ${ms / 1000}s`;
  const limit =
    <A extends unknown[], T>(call: (...args: A) => Promise<T>) =>
    (...args: A) =>
      within(ms, call(...args), new Error(message));
  return {
    ...admin,
    statuses: limit(admin.statuses),
    parked: limit(admin.parked),
    gaps: limit(admin.gaps),
    requestRedrive: limit(admin.requestRedrive),
    requestRebuild: limit(admin.requestRebuild),
  };
}

async function withAdmin(app: AnyAppConfig, config: Config, run: Run, work: (admin: ProjectionAdmin) => Promise<void>) {
  const redis = await connectRedis(config.REDIS_URL, run.timeoutMs);
  try {
    await work(bounded(createProjectionAdmin(redis, config.REDIS_PREFIX, projectionsOf(app)), run.timeoutMs, new URL(config.REDIS_URL).host));
  } finally {
    await closeRedis(redis);
  }
}

async function rebuild(admin: ProjectionAdmin, run: Run, target: string) {
  const statusOf = async () => (await admin.statuses()).find((s) => s.name === target)!;
  const before = await statusOf();
  const acceptGaps = run.options['accept-gaps'] === true;
  await admin.requestRebuild(target, { acceptGaps });
  const tty = process.stdout.isTTY === true && !run.json;
  if (!run.json) console.log(`rebuild of ${target} requested (live generation ${before.generation ?? '-'})`);
  const started = Date.now();
  let seen = false;
  let lastLine = 0;
  for (;;) {
    await sleep(1000);
    const status = await statusOf();
    if (status.rebuild?.held && !acceptGaps) {
      if (tty) process.stdout.write('\n');
      const gaps = await admin.gaps(target, { of: 'rebuild', limit: 20 });
      const held = { projection: target, code: status.rebuild.held.code, generation: status.rebuild.generation, aggregates: status.rebuild.held.gaps, gaps };
      print(run, held, () =>
        [`rebuild of ${target} held (${held.code}): the log lacks the history of ${held.aggregates} aggregate(s); generation ${before.generation ?? '-'} keeps serving`, formatGaps(gaps, held.aggregates), 'run again with --accept-gaps to switch without it (those aggregates stay parked)'].join('\n'),
      );
      process.exitCode = 1;
      return;
    }
    if (status.rebuild) {
      seen = true;
      if (tty) process.stdout.write(`\r${progressBar(status.rebuild)}  `);
      else if (!run.json && Date.now() - lastLine >= 10_000) {
        // Logs and pipes get a plain line every 10 s rather than a redrawn bar.
        lastLine = Date.now();
        console.log(formatRebuild(status.rebuild));
      }
    } else if (seen || (status.generation ?? 0) > (before.generation ?? 0)) {
      const seconds = Number(((Date.now() - started) / 1000).toFixed(1));
      if (tty && seen) process.stdout.write('\n');
      const dropped = acceptGaps ? await admin.gaps(target, { limit: 20 }) : [];
      const droppedNote = dropped.length ? `\nwith gaps accepted, ${status.gapsOpen} aggregate(s) are parked behind their gaps, out of the read model:\n${formatGaps(dropped, status.gapsOpen)}` : '';
      print(run, { projection: target, generation: status.generation, previousGeneration: before.generation, seconds, gapsOpen: status.gapsOpen, dropped }, () => `rebuilt: ${target} now serves generation ${status.generation} (${seconds.toFixed(1)}s)${droppedNote}`);
      return;
    } else if (Date.now() - started > 30_000 && status.owner === null) {
      throw new Error(`no projector owns ${target}: start one (make up, or node dist/bin/projector.js)`);
    }
  }
}

/** `send`: builds a command envelope and submits it with the same bus the API uses. */
async function send(app: AnyAppConfig, config: Config, run: Run) {
  const [aggregateType, aggregateId, type, json = '{}'] = run.args as [string, string, string, string?];
  const aggregates: Record<string, AnyAggregate> = aggregatesOf(app);
  const aggregate = Object.hasOwn(aggregates, aggregateType) ? aggregates[aggregateType] : undefined;
  if (!aggregate) throw new UsageError(`no aggregate named '${aggregateType}' (known: ${Object.keys(aggregates).join(', ')})`, 'send');
  if (!Object.hasOwn(aggregate.commands, type)) throw new UsageError(`${aggregate.name} has no command '${type}' (it has ${Object.keys(aggregate.commands).join(', ')})`, 'send');
  let payload: Record<string, unknown>;
  try {
    payload = JSON.parse(json) as Record<string, unknown>;
  } catch {
    throw new UsageError(`the payload is not JSON: ${json}`, 'send');
  }
  const parsed = (aggregate.commands as Record<string, z.ZodObject>)[type]!.safeParse(payload);
  if (!parsed.success) throw new UsageError(`invalid ${aggregate.name}.${type} payload:\n${z.prettifyError(parsed.error)}`, 'send');
  const commandId = run.options['command-id'] as string | undefined;

  const temporal = connectTemporalLazily(config);
  try {
    const unreachable = `Temporal at ${config.TEMPORAL_ADDRESS} did not answer within ${run.timeoutMs / 1000}s: is it running?`;
    await within(run.timeoutMs, temporal.connection.ensureConnected(), new Error(unreachable)).catch((error: unknown) => {
      throw new Error(error instanceof Error && error.message === unreachable ? unreachable : `Temporal at ${config.TEMPORAL_ADDRESS} is not reachable: is it running? (${String(error)})`);
    });
    const bus = createCommandBus(temporal, {
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      timeoutMs: config.COMMAND_TIMEOUT_MS,
      commandIdRetentionMs: config.COMMAND_ID_RETENTION_HOURS * 3_600_000,
    });
    const outcome = await bus.submit(buildCommand({ aggregateType: aggregate.name, aggregateId, type, payload, commandId }));
    console.log(run.json ? JSON.stringify(outcome) : JSON.stringify(outcome, null, 2));
    if (outcome.status === 'rejected') process.exitCode = 1;
  } finally {
    await temporal.connection.close();
  }
}

async function setup(config: Config, run: Run) {
  const dryRun = run.options['dry-run'] === true;
  const report = await setupCluster(config, { dryRun });
  print(run, report, () => formatSetup(report, dryRun));
  if (!report.ok) process.exitCode = 1;
}

/** The processes: run in this process, as `node dist/bin/<name>.js` would, with the app from --config. */
const processes = { worker: () => import('./worker.js'), projector: () => import('./projector.js'), api: () => import('./api.js') } as const;

/** `init`: writes a new app; the one command that reads no config. */
function init(run: Run) {
  const result = initApp({ dir: run.args[0]!, ledgerflow: run.options.ledgerflow as string | undefined, client: run.options.client as string | undefined });
  print(run, result, () => formatInit(result));
}

async function execute(run: Run) {
  if (run.command === 'init') return init(run);
  const app: LoadedApp = await loadApp((run.options.config as string | undefined) ?? process.env.LEDGERFLOW_CONFIG);
  if (run.command === 'worker' || run.command === 'projector' || run.command === 'api') {
    process.env.LEDGERFLOW_CONFIG = app.path;
    const { main } = await processes[run.command]();
    return runMain(main, run.command);
  }
  if (run.command === 'dev') return runDev(app, loadConfig());
  if (run.command === 'build') return buildWorkflowBundles(app, (run.options.out as string | undefined) ?? 'dist/workflow-bundle.js');
  if (run.command === 'send') return send(app.config, loadConfig(), run);
  if (run.command === 'setup') return setup(loadConfig(), run);
  if (run.command === 'status') {
    return withAdmin(app.config, loadConfig(), run, async (admin) => {
      const statuses = await admin.statuses();
      print(run, statuses, () => statuses.map(formatStatus).join('\n'));
    });
  }
  const target = projectionArg(app.config, run);
  if (run.command === 'parked') {
    const limit = integerOption(run.options.limit, 'limit', 1, 1000, 'parked');
    return withAdmin(app.config, loadConfig(), run, async (admin) => {
      const parked = await admin.parked(target, limit);
      print(run, parked, () => (parked.length === 0 ? 'no parked events' : parked.map(formatParked).join('\n')));
    });
  }
  if (run.command === 'redrive') {
    return withAdmin(app.config, loadConfig(), run, async (admin) => {
      const { parked } = await admin.requestRedrive(target);
      print(run, { projection: target, parked }, () => `re-drive of ${parked} parked event(s) requested; the owner applies them within a second or two`);
    });
  }
  return withAdmin(app.config, loadConfig(), run, (admin) => rebuild(admin, run, target));
}

function fail(json: boolean, code: 1 | 2, message: string, help?: string) {
  console.error(json ? JSON.stringify({ error: message, exitCode: code }) : help ? `${message}\n\n${help}` : message);
  process.exitCode = code;
}

async function main() {
  const argv = process.argv.slice(2);
  const json = argv.includes('--json');
  let invocation: Invocation;
  try {
    invocation = parseInvocation(argv);
    if (invocation.kind === 'help') return void console.log(invocation.text);
    await execute(invocation);
  } catch (error) {
    if (error instanceof UsageError) return fail(json, 2, error.message, error.command ? commandHelp(error.command) : usage());
    return fail(json, 1, error instanceof Error ? error.message : String(error));
  }
}

runMain(main, 'ledgerflow');
