import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, listening } from './stack';

/**
 * A RabbitMQ node of the test's own (its own port, data and log folders, no plugins), so a
 * test can restart the broker without touching the machine's shared one. Data survives a
 * restart, as with a real broker.
 */
export interface OwnRabbit {
  url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Stops the node and deletes its data. */
  destroy(): Promise<void>;
}


async function until(check: () => Promise<boolean>, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export async function ownRabbit(): Promise<OwnRabbit> {
  const port = await freePort();
  const dir = join(tmpdir(), `ledgerflow-rabbit-${port}`);
  mkdirSync(join(dir, 'mnesia'), { recursive: true });
  mkdirSync(join(dir, 'log'), { recursive: true });
  writeFileSync(join(dir, 'enabled_plugins'), '[].\n');
  writeFileSync(join(dir, 'rabbitmq.conf'), `listeners.tcp.local = 127.0.0.1:${port}\n`);
  // rabbitmq-server runs the node as the rabbitmq user, which must own its folders.
  const owner = spawnSync('id', ['-u', 'rabbitmq'], { encoding: 'utf8' });
  if (owner.status === 0) {
    const uid = Number(owner.stdout.trim());
    const gid = Number(spawnSync('id', ['-g', 'rabbitmq'], { encoding: 'utf8' }).stdout.trim());
    for (const path of [dir, join(dir, 'mnesia'), join(dir, 'log'), join(dir, 'enabled_plugins'), join(dir, 'rabbitmq.conf')]) chownSync(path, uid, gid);
  }
  const node = `lftest${port}@localhost`;
  const env = {
    ...process.env,
    RABBITMQ_NODENAME: node,
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(port + 1 < 65536 ? port + 1 : port - 1),
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_PID_FILE: join(dir, 'pid'),
  };
  const pid = () => (existsSync(join(dir, 'pid')) ? Number(readFileSync(join(dir, 'pid'), 'utf8').trim()) : null);
  const alive = (p: number | null) => {
    if (!p) return false;
    try {
      process.kill(p, 0);
      return true;
    } catch {
      return false;
    }
  };

  const server: OwnRabbit = {
    url: `amqp://guest:guest@127.0.0.1:${port}`,
    async start() {
      execFileSync('rabbitmq-server', ['-detached'], { env, stdio: 'ignore' });
      await until(() => listening(port), 60_000, `RabbitMQ node ${node} did not listen on ${port}`);
    },
    async stop() {
      const p = pid();
      if (alive(p)) process.kill(p!, 'SIGTERM');
      await until(async () => !alive(p) && !(await listening(port)), 60_000, `RabbitMQ node ${node} did not stop`);
    },
    async destroy() {
      await server.stop().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}
