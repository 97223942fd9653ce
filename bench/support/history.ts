/**
 * What one command costs Temporal: a workflow that took `commands` commands one after another,
 * its history's events counted by type and divided by the commands. Every event is a write on
 * the server, and every workflow task in it a round trip to the worker.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';

export type EventsPerCommand = Record<string, number>;

/** Commands a probe sends one after another before its history is read. */
export const probeCommands = 20;

/** An event's type, from the one `<type>EventAttributes` field it carries (no proto enum needed). */
function typeOf(event: object): string {
  for (const key in event) {
    if (key.endsWith('EventAttributes') && (event as Record<string, unknown>)[key] != null) return key.slice(0, -'EventAttributes'.length);
  }
  return 'unknown';
}

/**
 * Counts by event type (camelCase, e.g. workflowTaskCompleted) per command, plus `total`. Waits
 * `settleMs` first, so work the commands started behind their answers (publishing) is counted.
 */
export async function eventsPerCommand(client: Client, workflowId: string, commands: number, settleMs = 1500): Promise<EventsPerCommand> {
  await sleep(settleMs);
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const counts: Record<string, number> = {};
  for (const event of history.events ?? []) counts[typeOf(event)] = (counts[typeOf(event)] ?? 0) + 1;
  const per = (n: number) => Math.round((n / commands) * 100) / 100;
  return { ...Object.fromEntries(Object.entries(counts).sort((a, b) => b[1] - a[1]).map(([type, n]) => [type, per(n)])), total: per(history.events?.length ?? 0) };
}
