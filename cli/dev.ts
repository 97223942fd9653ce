/**
 * `make up`: the whole local stack in one terminal. Starts the Temporal dev server (SQLite in
 * .data/, so aggregates survive restarts), then the stand-in payment gateway, worker, projector
 * and API as child processes (restarted if they die), prints where to look, and stops
 * everything on Ctrl-C.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../core/config';
import { checkServices, describeDown } from '../infra/preflight';
import { startTemporalDevServer, type DevServer } from '../infra/temporal';
import { runMain } from './main';

const root = join(__dirname, '..', '..');
const dataDir = process.env.LEDGERFLOW_DATA ?? join(root, '.data');

interface Service {
  name: string;
  script: string;
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

async function main() {
  const config = loadConfig();
  const problem = describeDown(await checkServices(config));
  if (problem) {
    console.error(problem);
    process.exit(1);
  }

  mkdirSync(dataDir, { recursive: true });
  const [host, port] = config.TEMPORAL_ADDRESS.split(':') as [string, string];
  const uiPort = Number(process.env.TEMPORAL_UI_PORT ?? 8233);
  let temporal: DevServer;
  try {
    temporal = await startTemporalDevServer({ ip: host, port: Number(port), uiPort, dbFile: join(dataDir, 'temporal.db') });
  } catch (error) {
    console.error(`Could not start the Temporal dev server on ${config.TEMPORAL_ADDRESS} (is another one running?)\n${String(error)}`);
    process.exit(1);
  }

  let stopping = false;
  const services: Service[] = [
    { name: 'payments', script: 'payment-gateway.js', restarts: 0 },
    { name: 'worker', script: 'worker.js', restarts: 0 },
    { name: 'projector', script: 'projector.js', restarts: 0 },
    { name: 'api', script: 'api.js', restarts: 0 },
  ];
  const launch = (service: Service) => {
    const child = spawn(process.execPath, [join(__dirname, service.script)], { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    prefixLines(service.name, child.stdout!, process.stdout);
    prefixLines(service.name, child.stderr!, process.stderr);
    child.once('exit', (code, signal) => {
      if (stopping) return;
      service.restarts += 1;
      const delay = Math.min(1000 * service.restarts, 10_000);
      console.error(`[stack] ${service.name} exited (${signal ?? code}); restarting in ${delay / 1000}s`);
      setTimeout(() => !stopping && launch(service), delay);
    });
    service.child = child;
  };
  services.forEach(launch);

  const apiUrl = `http://127.0.0.1:${config.API_PORT}`;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const ok = await fetch(`${apiUrl}/health`).then((r) => r.ok, () => false);
    if (ok) break;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }

  const rabbitConsole = `http://${new URL(config.RABBITMQ_URL).hostname}:15672`;
  console.log(
    [
      '',
      'Ledgerflow is up.',
      `  API (tRPC)          ${apiUrl}/trpc      health: ${apiUrl}/health   metrics: ${apiUrl}/metrics`,
      `  Projection console  ${apiUrl}/console   (state, lag, parked events, re-drive, rebuild)`,
      `  Worker, projector   metrics: http://${config.METRICS_HOST}:${config.WORKER_METRICS_PORT}/metrics, http://${config.METRICS_HOST}:${config.PROJECTOR_METRICS_PORT}/metrics   (health: /health/ready)`,
      `  Temporal Web UI     http://${host}:${uiPort}   (aggregates are workflows: cart:<cartId>, order:<orderId>; checkouts: checkout:<orderId>)`,
      `  RabbitMQ console    ${rabbitConsole}   (guest/guest; exchange ${config.EVENTS_EXCHANGE}, stream ${config.EVENTS_STREAM})`,
      `  Payment gateway     ${config.PAYMENT_GATEWAY_URL}   (a stand-in; PUT /behavior to make it slow, failing or strict)`,
      `  Data                ${dataDir}`,
      '',
      'Try:',
      `  curl -s -X POST ${apiUrl}/trpc/cart.addItem -H 'content-type: application/json' \\`,
      `       -d '{"cartId":"user-123","itemId":"product-abc","quantity":1,"price":19.99}'`,
      `  curl -s "${apiUrl}/trpc/cart.get?input=%7B%22cartId%22%3A%22user-123%22%7D"`,
      '',
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );

  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    console.log('[stack] stopping...');
    await Promise.all(
      services.map(
        (s) =>
          new Promise<void>((resolve) => {
            const child = s.child;
            if (!child || child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
            setTimeout(() => child.kill('SIGKILL'), 15_000).unref();
          }),
      ),
    );
    await temporal.stop();
    console.log('[stack] stopped.');
    process.exit(0);
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

runMain(main);
