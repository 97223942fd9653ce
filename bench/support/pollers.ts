/**
 * Whether a (re)started worker is polling its task queue yet: a scenario timed before that would
 * measure the worker's start-up (bundling workflows takes seconds), not the command path.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';

const millisOf = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) =>
  t ? Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6) : 0;

/**
 * Resolves once a poller whose identity starts with `<pid>@` (the SDK's default identity) has
 * polled the queue's workflow tasks after `sinceMs` (epoch ms).
 */
export async function waitForPoller(
  client: Client,
  taskQueue: string,
  pid: number,
  sinceMs: number,
  alive: () => boolean = () => true,
  timeoutMs = 120_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!alive()) throw new Error(`process ${pid} exited before polling ${taskQueue}`);
    const { pollers } = await client.workflowService.describeTaskQueue({ namespace: client.options.namespace, taskQueue: { name: taskQueue } });
    if (pollers?.some((p) => p.identity?.startsWith(`${pid}@`) && millisOf(p.lastAccessTime) >= sinceMs)) return;
    if (Date.now() > deadline) throw new Error(`no worker of process ${pid} polls ${taskQueue} after ${timeoutMs / 1000} s`);
    await sleep(200);
  }
}
