/**
 * Throughput and latency of the command path, end to end through the HTTP API, on a stack of
 * its own (Temporal dev server in memory, the local RabbitMQ and Redis under unique names).
 *   npm run bench            all scenarios
 *   npm run bench -- quick   smaller counts
 */
import { startTestStack } from '../test/support/stack';

const quick = process.argv.includes('quick');

interface Figure {
  scenario: string;
  commands: number;
  seconds: number;
  perSecond: number;
  p50ms: number;
  p95ms: number;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;

async function main() {
  const stack = await startTestStack();
  const run = Date.now().toString(36);
  const figures: Figure[] = [];

  async function measure(scenario: string, senders: number, perSender: number, cartOf: (sender: number, i: number) => string, wait: 'processed' | 'projected' = 'processed') {
    const latencies: number[] = [];
    const started = performance.now();
    await Promise.all(
      Array.from({ length: senders }, async (_, sender) => {
        for (let i = 0; i < perSender; i++) {
          const t = performance.now();
          await stack.trpc.cart.addItem.mutate({ cartId: cartOf(sender, i), itemId: `s${sender}-${i}`, quantity: 1, price: 0.01, wait });
          latencies.push(performance.now() - t);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    const figure = {
      scenario,
      commands: senders * perSender,
      seconds: Number(seconds.toFixed(2)),
      perSecond: Math.round((senders * perSender) / seconds),
      p50ms: Math.round(percentile(latencies, 50)),
      p95ms: Math.round(percentile(latencies, 95)),
    };
    figures.push(figure);
    console.log(JSON.stringify(figure));
  }

  try {
    // Warm up: workflow bundle caches, connections.
    await measure('warm-up', 5, 5, (s) => `warm-${run}-${s}`);
    figures.length = 0;
    await measure('one aggregate, 1 sender', 1, quick ? 50 : 200, () => `one-${run}`);
    await measure('one aggregate, 50 senders', 50, quick ? 10 : 40, () => `hot-${run}`);
    await measure('1,000 aggregates, 50 senders', 50, quick ? 4 : 20, (s, i) => `many-${run}-${(s * 20 + i) % 1000}`);
    await measure("command to read model (wait 'projected'), 1 sender", 1, quick ? 30 : 100, (_, i) => `rm-${run}-${i % 10}`, 'projected');
    console.log('\n| scenario | commands | seconds | commands/s | p50 ms | p95 ms |\n|---|---:|---:|---:|---:|---:|');
    for (const f of figures) console.log(`| ${f.scenario} | ${f.commands} | ${f.seconds} | ${f.perSecond} | ${f.p50ms} | ${f.p95ms} |`);
  } finally {
    await stack.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
