/**
 * The admin CLI: projection status, parked events, re-drive, rebuild with progress.
 *   npm run ledgerflow -- status
 *   npm run ledgerflow -- parked carts
 *   npm run ledgerflow -- redrive carts
 *   npm run ledgerflow -- rebuild carts
 *   npm run ledgerflow -- send customer ada register '{"name":"Ada","email":"ada@example.com"}'
 * Exit codes: 0 done, 1 failed (a service unreachable, unknown projection, no owner, a command
 * refused), 2 usage (unknown command, aggregate or payload).
 */
import { z } from 'zod';
import { createCommandBus } from '../commands/bus';
import { buildCommand } from '../commands/envelope';
import { loadConfig, type Config } from '../core/config';
import { aggregates, projections } from '../domain';
import { connectTemporalLazily } from '../infra/temporal';
import { closeRedis, createRedis } from '../infra/redis';
import { createProjectionAdmin, UnknownProjectionError } from '../projectors/admin';
import type { ProjectionStatus } from '../projectors/status';
import { runMain } from './main';

const usage = `usage: ledgerflow <command>
  status                 every projection: state, checkpoint, stream tail, lag, rate, parked
  parked <projection>    list parked events with their errors
  redrive <projection>   re-apply parked events (after fixing the handler)
  rebuild <projection>   rebuild into a new generation from the start of the log, showing progress
  send <aggregate> <id> <command> [payload-json] [--command-id <id>]
                         send a command to an aggregate (Temporal only) and print its outcome`;

/** The CLI never waits forever: Redis answers within a few seconds or the command fails. */
async function connectOrFail(url: string) {
  const redis = createRedis(url, 'ledgerflow-cli', undefined, { failFast: true });
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error(`Redis at ${new URL(url).host} did not answer within ${connectTimeoutMs / 1000}s: is it running?`)), connectTimeoutMs).unref(),
  );
  try {
    await Promise.race([redis.connect(), timeout]);
    return redis;
  } catch (error) {
    redis.destroy();
    throw error;
  }
}

const connectTimeoutMs = 5000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function formatStatus(s: ProjectionStatus): string {
  const lag = s.lagEvents === null ? 'lag ?' : `lag ${s.lagEvents} events / ${s.lagSeconds.toFixed(1)}s`;
  const lines = [
    `${s.name}  ${s.state.toUpperCase()}  generation ${s.generation ?? '-'}  version ${s.version}  owner ${s.owner ?? '-'}`,
    `  checkpoint ${s.checkpoint ?? '-'}  tail ${s.tail ?? '-'}  ${lag}  ${s.eventsPerSecond} events/s  parked ${s.parked}  duplicates skipped ${s.duplicatesSkipped}  gaps ${s.gaps}`,
  ];
  if (s.rebuild) lines.push(`  ${formatRebuild(s.rebuild)}`);
  return lines.join('\n');
}

function formatRebuild(r: NonNullable<ProjectionStatus['rebuild']>): string {
  const percent = r.total ? ` (${((100 * r.done) / r.total).toFixed(1)}%)` : '';
  const eta = r.etaSeconds === null ? '' : `, ${r.etaSeconds}s left`;
  return `rebuilding generation ${r.generation}: ${r.done} of ${r.total ?? '?'} events${percent}, ${r.eventsPerSecond} events/s${eta}`;
}

/** `send`: builds a command envelope and submits it with the same bus the API uses. */
async function send(config: Config, args: string[]) {
  const commandIdAt = args.indexOf('--command-id');
  const commandId = commandIdAt >= 0 ? args[commandIdAt + 1] : undefined;
  const [aggregateType, aggregateId, type, json = '{}'] = commandIdAt >= 0 ? [...args.slice(0, commandIdAt), ...args.slice(commandIdAt + 2)] : args;
  const aggregate = aggregateType && Object.hasOwn(aggregates, aggregateType) ? aggregates[aggregateType as keyof typeof aggregates] : undefined;
  if (!aggregate || !aggregateId || !type) throw new UsageError(`send needs <aggregate> <id> <command>; aggregates: ${Object.keys(aggregates).join(', ')}`);
  if (!Object.hasOwn(aggregate.commands, type)) throw new UsageError(`${aggregate.name} has no command '${type}' (it has ${Object.keys(aggregate.commands).join(', ')})`);
  let payload: Record<string, unknown>;
  try {
    payload = JSON.parse(json) as Record<string, unknown>;
  } catch {
    throw new UsageError(`the payload is not JSON: ${json}`);
  }
  const parsed = (aggregate.commands as Record<string, z.ZodObject>)[type]!.safeParse(payload);
  if (!parsed.success) throw new UsageError(`invalid ${aggregate.name}.${type} payload:\n${z.prettifyError(parsed.error)}`);
  const temporal = connectTemporalLazily(config);
  try {
    const bus = createCommandBus(temporal, { taskQueue: config.TEMPORAL_TASK_QUEUE, timeoutMs: config.COMMAND_TIMEOUT_MS });
    const outcome = await bus.submit(buildCommand({ aggregateType: aggregate.name, aggregateId, type, payload, commandId }));
    console.log(JSON.stringify(outcome, null, 2));
    if (outcome.status === 'rejected') process.exitCode = 1;
  } finally {
    await temporal.connection.close();
  }
}

class UsageError extends Error {}

async function main() {
  const [command, name] = process.argv.slice(2);
  if (!command || command === 'help' || command === '--help') {
    console.log(usage);
    return;
  }
  const config = loadConfig();
  if (command === 'send') {
    try {
      return await send(config, process.argv.slice(3));
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      console.error(`${error.message}\n\n${usage}`);
      process.exitCode = 2;
      return;
    }
  }
  const redis = await connectOrFail(config.REDIS_URL);
  const admin = createProjectionAdmin(redis, config.REDIS_PREFIX, projections);
  try {
    const projection = () => {
      if (!name) throw new UnknownProjectionError('', admin.names());
      return name;
    };
    switch (command) {
      case 'status':
        for (const status of await admin.statuses()) console.log(formatStatus(status));
        break;
      case 'parked': {
        const parked = await admin.parked(projection());
        if (parked.length === 0) console.log('no parked events');
        for (const p of parked) console.log(`offset ${p.offset}  ${p.aggregate ?? '?'} v${p.version ?? '?'}  ${p.parkedAt}  ${p.error}`);
        break;
      }
      case 'redrive': {
        const { parked } = await admin.requestRedrive(projection());
        console.log(`re-drive of ${parked} parked event(s) requested; the owner applies them within a second or two`);
        break;
      }
      case 'rebuild': {
        const target = projection();
        const before = (await admin.statuses()).find((s) => s.name === target)!;
        await admin.requestRebuild(target);
        console.log(`rebuild of ${target} requested (live generation ${before.generation ?? '-'})`);
        const started = Date.now();
        let seen = false;
        for (;;) {
          await sleep(1000);
          const status = (await admin.statuses()).find((s) => s.name === target)!;
          if (status.rebuild) {
            seen = true;
            process.stdout.write(`\r${formatRebuild(status.rebuild)}   `);
          } else if (seen || (status.generation ?? 0) > (before.generation ?? 0)) {
            console.log(`\nrebuilt: ${target} now serves generation ${status.generation} (${((Date.now() - started) / 1000).toFixed(1)}s)`);
            break;
          } else if (Date.now() - started > 30_000 && status.owner === null) {
            throw new Error(`no projector owns ${target}: start one (make up, or node dist/bin/projector.js)`);
          }
        }
        break;
      }
      default:
        console.error(usage);
        process.exitCode = 2;
    }
  } finally {
    await closeRedis(redis);
  }
}

runMain(main, 'ledgerflow');
