/**
 * Replay rate of a projection rebuild: seeds the event log with N cart events, lets the
 * projector catch up, then rebuilds the carts projection into a new generation and times it.
 *   npm run bench:rebuild              50,000 events
 *   npm run bench:rebuild -- 200000    another count
 */
import { createLogger } from '../infra/logger';
import { connectRabbit, declareTopology, topologyOf } from '../infra/rabbit';
import { createRedis } from '../infra/redis';
import { loadConfig } from '../core/config';
import { projections } from '../domain';
import { createProjectionAdmin } from '../projectors/admin';
import { startProjector } from '../projectors/runtime';
import { deleteKeys, uniqueId } from '../test/support/stack';

const total = Number(process.argv[2] ?? 50_000);
const perCart = 10;

async function main() {
  const run = uniqueId('bench');
  const config = loadConfig({ EVENTS_EXCHANGE: `ledgerflow.bench.${run}`, EVENTS_STREAM: `ledgerflow.bench.${run}.log`, REDIS_PREFIX: `lfbench:${run}`, LOG_LEVEL: 'warn' });
  const log = createLogger('bench', 'warn');
  const rabbit = connectRabbit(config, 'bench');
  const topology = topologyOf(config);
  await declareTopology(rabbit, topology);
  const redis = createRedis(config.REDIS_URL, 'ledgerflow-bench');
  await redis.connect();
  const projectorRedis = createRedis(config.REDIS_URL, 'ledgerflow-bench-projector');
  await projectorRedis.connect();

  try {
    console.log(`seeding ${total} events...`);
    const publisher = rabbit.createPublisher({ confirm: true });
    const now = new Date().toISOString();
    for (let start = 0; start < total; start += 1000) {
      await Promise.all(
        Array.from({ length: Math.min(1000, total - start) }, (_, k) => {
          const n = start + k;
          const cartId = `c${Math.floor(n / perCart)}`;
          const version = (n % perCart) + 1;
          const event = {
            eventId: `cart:${cartId}:${version}`, aggregateType: 'cart', aggregateId: cartId, version, type: 'ItemAddedToCart', schemaVersion: 2,
            payload: { itemId: `i${version}`, quantity: 1, unitPriceCents: 199 }, occurredAt: now, commandId: `k${n}`, correlationId: `k${n}`, causationId: `k${n}`,
          };
          return publisher.send({ exchange: topology.exchange, routingKey: 'cart.ItemAddedToCart', messageId: event.eventId, durable: true }, event);
        }),
      );
    }
    await publisher.close();

    const projector = startProjector({ redis: projectorRedis, rabbit, topology, prefix: config.REDIS_PREFIX, log }, projections, { tickMs: 500 });
    const admin = createProjectionAdmin(redis, config.REDIS_PREFIX, projections);
    const waitFor = async (check: (s: Awaited<ReturnType<typeof admin.statuses>>[number]) => boolean) => {
      for (;;) {
        const status = (await admin.statuses())[0]!;
        if (check(status)) return status;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    let t = performance.now();
    await waitFor((s) => s.checkpoint !== null && s.checkpoint >= total - 1);
    const catchUp = (performance.now() - t) / 1000;
    console.log(`initial catch-up: ${total} events in ${catchUp.toFixed(1)} s = ${Math.round(total / catchUp)} events/s`);

    await admin.requestRebuild('carts');
    t = performance.now();
    await waitFor((s) => s.generation === 2 && s.state === 'live');
    const rebuild = (performance.now() - t) / 1000;
    console.log(`rebuild into generation 2: ${total} events in ${rebuild.toFixed(1)} s = ${Math.round(total / rebuild)} events/s (includes up to one status tick of detection)`);
    await projector.stop();
  } finally {
    await rabbit.queueDelete({ queue: topology.stream }).catch(() => {});
    await rabbit.exchangeDelete({ exchange: topology.exchange }).catch(() => {});
    await rabbit.close();
    await deleteKeys(redis, `${config.REDIS_PREFIX}:*`);
    await Promise.allSettled([redis.quit(), projectorRedis.quit()]);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
