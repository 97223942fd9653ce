import { connect } from 'node:net';
import type { Config } from '../core/config';

export interface ServiceCheck {
  name: string;
  url: string;
  ok: boolean;
  /** How to start the service on a machine like this one, when it is down. */
  hint: string;
}

function reachable(url: string, defaultPort: number, timeoutMs = 2000): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname.replace(/^\[|\]$/g, ''), port: Number(port || defaultPort) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Can we open a TCP connection to RabbitMQ and Redis? Names the start command when not. */
export async function checkServices(config: Config): Promise<ServiceCheck[]> {
  const [rabbit, redis] = await Promise.all([reachable(config.RABBITMQ_URL, 5672), reachable(config.REDIS_URL, 6379)]);
  return [
    { name: 'RabbitMQ', url: config.RABBITMQ_URL.replace(/\/\/[^@]*@/, '//'), ok: rabbit, hint: 'rabbitmq-server -detached' },
    {
      name: 'Redis',
      url: config.REDIS_URL.replace(/\/\/[^@]*@/, '//'),
      ok: redis,
      hint: 'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log',
    },
  ];
}

export function describeDown(checks: ServiceCheck[]): string | null {
  const down = checks.filter((c) => !c.ok);
  if (down.length === 0) return null;
  return down.map((c) => `${c.name} is not reachable at ${c.url}. Start it with:\n    ${c.hint}`).join('\n');
}
