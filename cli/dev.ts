/**
 * `ledgerflow dev`: an app's whole local stack in one terminal. Starts a Temporal dev server
 * (SQLite in `.ledgerflow/`, so aggregates survive restarts) unless TEMPORAL_ADDRESS names one
 * that answers, then the app's own dev services (its config's `dev.services`), the worker, the
 * projector and the API as child processes (restarted if they die), prints where to look, and
 * stops everything on Ctrl-C.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Connection } from '@temporalio/client';
import type { Config } from '../core/config';
import type { LoadedApp } from '../infra/app-loader';
import { checkServices, describeDown } from '../infra/preflight';
import { startTemporalDevServer, temporalCliPath, temporalCliVersion, type DevServer } from '../infra/temporal-dev-server';
import { sleep } from '../infra/deadline';

interface Service {
  name: string;
  command: string;
  args: string[];
  cwd: string;
  child?: ChildProcess;
  restarts: number;
}

function prefixLines(name: string, stream: NodeJS.ReadableStream, out: NodeJS.WritableStream) {
  let buffered = '';
  stream.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) out.write(`[${name}] ${line}\n`);
  });
}

/**
 * The Temporal CLI to run the dev server with: LEDGERFLOW_TEMPORAL_CLI, then `temporal` on PATH,
 * then the one `make up` / scripts/install-temporal.sh caches. Undefined when there is none.
 */
export function findTemporalCli(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.LEDGERFLOW_TEMPORAL_CLI) return existsSync(env.LEDGERFLOW_TEMPORAL_CLI) ? env.LEDGERFLOW_TEMPORAL_CLI : undefined;
  const onPath = spawnSync('sh', ['-c', 'command -v temporal'], { encoding: 'utf8' });
  if (onPath.status === 0 && onPath.stdout.trim()) return onPath.stdout.trim();
  const cached = temporalCliPath(env);
  return existsSync(cached) ? cached : undefined;
}

export const missingTemporalCli = (env: NodeJS.ProcessEnv = process.env) =>
  [
    `No Temporal server: nothing answers at TEMPORAL_ADDRESS${env.TEMPORAL_ADDRESS ? ` (${env.TEMPORAL_ADDRESS})` : ''}, and no Temporal CLI to start one.`,
    'Any one of these fixes it:',
    `  - install the CLI on PATH: go install github.com/temporalio/cli/cmd/temporal@${temporalCliVersion} (Go >= 1.25), or Temporal's own installer`,
    '  - point LEDGERFLOW_TEMPORAL_CLI at a temporal binary',
    `  - put one at ${temporalCliPath(env)} (where Ledgerflow's make up caches it)`,
    '  - set TEMPORAL_ADDRESS to a running server (host:port)',
  ].join('\n');

async function answers(address: string): Promise<boolean> {
  try {
    const connection = await Connection.connect({ address, connectTimeout: 1500 });
    await connection.workflowService.getSystemInfo({}).finally(() => connection.close());
    return true;
  } catch {
    return false;
  }
}

/** An engine process's entry script, as this module runs (compiled, or from source through tsx). */
export const engineScript = (name: 'worker' | 'projector' | 'api') => join(__dirname, '..', 'bin', `${name}${__filename.endsWith('.ts') ? '.ts' : '.js'}`);

/** The engine's process entry points, run the way this CLI itself runs. */
function engineProcess(name: 'worker' | 'projector' | 'api', cwd: string): Omit<Service, 'restarts'> {
  return { name, command: process.execPath, args: [...process.execArgv, engineScript(name)], cwd };
}

export async function runDev(app: LoadedApp, config: Config, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const problem = describeDown(await checkServices(config));
  if (problem) throw new Error(problem);
  const appDir = dirname(app.path);
  const dataDir = env.LEDGERFLOW_DATA ?? join(appDir, '.ledgerflow');

  let temporal: DevServer | undefined;
  const [host, port] = config.TEMPORAL_ADDRESS.split(':') as [string, string];
  const uiPort = Number(env.TEMPORAL_UI_PORT ?? 8233);
  if (env.TEMPORAL_ADDRESS && (await answers(config.TEMPORAL_ADDRESS))) {
    console.log(`[dev] using the Temporal server at ${config.TEMPORAL_ADDRESS}`);
  } else {
    const binary = findTemporalCli(env);
    if (!binary) throw new Error(missingTemporalCli(env));
    mkdirSync(dataDir, { recursive: true });
    try {
      temporal = await startTemporalDevServer({ ip: host, port: Number(port), uiPort, dbFile: join(dataDir, 'temporal.db'), binary });
    } catch (error) {
      throw new Error(`Could not start the Temporal dev server on ${config.TEMPORAL_ADDRESS} (is another one running? then set TEMPORAL_ADDRESS)\n${String(error)}`);
    }
  }

  let stopping = false;
  const childEnv = { ...env, LEDGERFLOW_CONFIG: app.path };
  const services: Service[] = [
    ...Object.entries(app.config.dev.services).map(([name, [command, ...args]]) => ({ name, command: command!, args, cwd: appDir, restarts: 0 })),
    ...(['worker', 'projector', 'api'] as const).map((name) => ({ ...engineProcess(name, appDir), restarts: 0 })),
  ];
  const launch = (service: Service) => {
    const child = spawn(service.command, service.args, { cwd: service.cwd, stdio: ['ignore', 'pipe', 'pipe'], env: childEnv });
    prefixLines(service.name, child.stdout!, process.stdout);
    prefixLines(service.name, child.stderr!, process.stderr);
    child.once('error', (err) => console.error(`[dev] ${service.name} could not start: ${err.message}`));
    child.once('exit', (code, signal) => {
      if (stopping) return;
      service.restarts += 1;
      const delay = Math.min(1000 * service.restarts, 10_000);
      console.error(`[dev] ${service.name} exited (${signal ?? code}); restarting in ${delay / 1000}s`);
      setTimeout(() => !stopping && launch(service), delay);
    });
    service.child = child;
  };
  services.forEach(launch);

  const apiUrl = `http://127.0.0.1:${config.API_PORT}`;
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline && !(await fetch(`${apiUrl}/health`).then((r) => r.ok, () => false))) {
    await sleep(300);
  }
  const rabbitConsole = `http://${new URL(config.RABBITMQ_URL).hostname}:15672`;
  const [firstModule] = Object.keys(app.config.modules);
  console.log(
    [
      '',
      `Ledgerflow is up: ${app.path}`,
      `  API (tRPC)          ${apiUrl}/trpc      health: ${apiUrl}/health   metrics: ${apiUrl}/metrics`,
      `  Projection console  ${apiUrl}/console   (state, lag, parked events, re-drive, rebuild)`,
      `  Worker, projector   metrics: http://${config.METRICS_HOST}:${config.WORKER_METRICS_PORT}/metrics, http://${config.METRICS_HOST}:${config.PROJECTOR_METRICS_PORT}/metrics`,
      `  Temporal Web UI     ${temporal ? `http://${host}:${uiPort}` : `the UI of ${config.TEMPORAL_ADDRESS}`}   (each aggregate is a workflow: ${firstModule ?? '<aggregate>'}:<id>)`,
      `  RabbitMQ console    ${rabbitConsole}   (guest/guest; exchange ${config.EVENTS_EXCHANGE}, stream ${config.EVENTS_STREAM})`,
      ...(temporal ? [`  Data                ${dataDir}`] : []),
      '',
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );

  await new Promise<void>((resolve) => {
    const shutdown = async () => {
      if (stopping) return;
      stopping = true;
      console.log('[dev] stopping...');
      await Promise.all(
        services.map(
          (s) =>
            new Promise<void>((done) => {
              const child = s.child;
              if (!child || child.exitCode !== null || child.signalCode !== null) return done();
              child.once('exit', () => done());
              child.kill('SIGTERM');
              setTimeout(() => child.kill('SIGKILL'), 15_000).unref();
            }),
        ),
      );
      await temporal?.stop();
      console.log('[dev] stopped.');
      resolve();
    };
    process.once('SIGINT', () => void shutdown());
    process.once('SIGTERM', () => void shutdown());
  });
}
