/**
 * `make bench` / `npm run bench`: every stage of Ledgerflow measured against the ceiling beneath
 * it, in one run, on a Temporal dev server of its own and the local RabbitMQ and Redis (under
 * names unique to the run, deleted after). Writes bench/results/latest.json, the charts and
 * BENCHMARKS.md. Settings are environment variables (bench/settings.ts), e.g.
 *   BENCH_SECONDS=5 BENCH_CONCURRENCY=20 npm run bench
 */
import { rmSync } from 'node:fs';
import { DefaultLogger, makeTelemetryFilterString, Runtime } from '@temporalio/worker';
import { loadConfig, type Config } from '../core/config';
import { connectTemporal } from '../infra/temporal';
import { startTemporalDevServer } from '../infra/temporal-dev-server';
import { freePort, uniqueId } from '../test/support/stack';
import { measureCeiling } from './ceiling/scenarios';
import { createLedgerflowClient } from './ledgerflow/client';
import { startInProcess, startProcesses } from './ledgerflow/deployments';
import { createPool } from './ledgerflow/pool';
import { measureDeployment } from './ledgerflow/scenarios';
import { prepareLedgerflow } from './ledgerflow/stack';
import { measurePublish } from './publish';
import { measureReplayPhase } from './replay/phase';
import { assembleResults, type Measured } from './report/results';
import { writePartial, writeReport } from './report/write';
import { deployments, loadSettings, nodeArgsOf, phases, type Phase } from './settings';
import { withCleanup } from './support/cleanup';
import { sharedServices } from './support/cpu';
import { describeMachine } from './support/machine';
import { logsDir } from './support/paths';

async function main() {
  const settings = loadSettings();
  /** Where RabbitMQ and Redis are (RABBITMQ_URL, REDIS_URL; the local ones by default). */
  const services = loadConfig();
  const run = uniqueId('bench');
  const measured: Measured = {
    started: new Date(),
    machine: describeMachine(),
    settings,
    ceiling: {},
    ceilingMemory: null,
    ceilingHistory: null,
    ledgerflow: {},
    replay: null,
    publish: null,
    failures: {},
  };
  const wants = (phase: Phase) => settings.BENCH_PHASES.includes(phase);
  /** A phase that fails is reported as such; the others still run. */
  const phase = async (name: string, body: () => Promise<void>) => {
    console.log(`\n== ${name}`);
    try {
      await body();
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      measured.failures[name] = reason;
      console.error(`  ${name} could not run: ${reason}`);
    }
  };
  console.log(`benchmark ${run}: ${JSON.stringify({ ...settings, BENCH_RECORD: undefined })}`);
  console.log(`machine: ${JSON.stringify(measured.machine)}`);
  // The in-process worker logs through the SDK's runtime. Its core's warnings (tasks that timed
  // out under overload) would drown the progress lines; the figures show overload anyway.
  Runtime.install({ logger: new DefaultLogger('WARN'), telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR' }) } } });
  rmSync(logsDir, { recursive: true, force: true });

  await withCleanup(async (cleanup) => {
    const needsTemporal = wants('ceiling') || wants('ledgerflow');
    const server = needsTemporal ? await startTemporalDevServer({ port: await freePort() }) : undefined;
    if (server) cleanup.defer('temporal dev server', () => server.stop());
    const temporal = server ? await connectTemporal({ TEMPORAL_ADDRESS: server.address, TEMPORAL_NAMESPACE: 'default' }) : undefined;
    if (temporal) cleanup.defer('temporal client', () => temporal.connection.close());
    const servicePids = { ...(server?.process.pid ? { 'temporal server': server.process.pid } : {}), ...sharedServices(services.REDIS_URL) };

    if (wants('ceiling')) {
      await phase('Temporal ceiling (bare worker)', async () => {
        ({ scenarios: measured.ceiling, memory: measured.ceilingMemory, historyPerCommand: measured.ceilingHistory } = await measureCeiling({ settings, temporal: temporal!, temporalAddress: server!.address, run, cleanup, servicePids }));
      });
    }
    if (wants('ledgerflow')) {
      let config: Config | undefined;
      await phase('Ledgerflow setup', async () => {
        config = await prepareLedgerflow(run, server!.address, await freePort(), cleanup);
      });
      const pool = createPool();
      for (const name of config ? settings.BENCH_DEPLOYMENTS : []) {
        await phase(`Ledgerflow, ${name}`, async () => {
          const deployment =
            name === 'processes' ? await startProcesses(config!, temporal!, cleanup, nodeArgsOf(settings)) : await startInProcess(config!, temporal!, cleanup);
          try {
            const client = createLedgerflowClient(deployment.apiUrl);
            measured.ledgerflow[name] = await measureDeployment({ settings, run, deployment, client, pool, servicePids, temporal: temporal! });
          } finally {
            await deployment.stop();
          }
        });
      }
    }
    if (wants('replay')) {
      await phase('Replay against raw Redis', async () => {
        measured.replay = await measureReplayPhase(run, settings.BENCH_REPLAY_EVENTS, cleanup);
      });
    }
    if (wants('publish')) {
      await phase('Publishing against raw rabbitmq-client', async () => {
        measured.publish = await measurePublish(settings, run, services.RABBITMQ_URL, cleanup);
      });
    }
  });

  const results = assembleResults(measured);
  const complete = phases.every(wants) && deployments.every((d) => settings.BENCH_DEPLOYMENTS.includes(d));
  const files = complete ? writeReport(results, settings.BENCH_RECORD) : writePartial(results);
  console.log(`\nwrote ${files.join(', ')}`);
  console.log(
    JSON.stringify(
      {
        temporalSignalLimit: results.temporalSignalLimit,
        commandThroughput: results.commandThroughput,
        ratioCommandToLimit: results.ratioCommandToLimit,
        latencyMs: results.latencyMs,
        replayEventsPerSec: results.replayEventsPerSec,
        ratioReplayToRedis: results.ratioReplayToRedis,
        publishRatio: results.publishRatio,
        workerRssMb: results.workerRssMb,
      },
      null,
      2,
    ),
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
