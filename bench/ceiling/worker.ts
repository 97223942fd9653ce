/**
 * The bare Temporal worker of the ceiling, run as a process of its own like the aggregate worker.
 *   TEMPORAL_ADDRESS=... BENCH_TASK_QUEUE=... node --import tsx bench/ceiling/worker.ts
 */
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';

async function main() {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233' });
  const worker = await Worker.create({
    connection,
    namespace: process.env.TEMPORAL_NAMESPACE ?? 'default',
    taskQueue: process.env.BENCH_TASK_QUEUE ?? 'ledgerflow-bench-ceiling',
    workflowsPath: require.resolve('./workflows'),
    // The aggregate worker's cache size, so "warm" and "cold" mean the same on both sides.
    maxCachedWorkflows: 2000,
  });
  // Stops cleanly on SIGINT/SIGTERM (the SDK's default shutdown signals).
  await worker.run();
  await connection.close();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
