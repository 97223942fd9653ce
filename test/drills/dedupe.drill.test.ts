/**
 * A retry after the dedupe window's count is exhausted, under load: early commands (UUIDv7 ids,
 * as the client makes them) are resent with the same ids and inputs after more than a thousand
 * refusals and more newer acceptances than the aggregate keeps, across hand-overs. Each must be
 * refused COMMAND_ID_EXPIRED (it may have been applied), never applied again; the
 * drill accounting (support/verify.ts) then finds nothing lost or doubled.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { v7 as uuidv7 } from 'uuid';
import { engineCodes } from '../../core/errors';
import { aggregateLimits as limits } from '../../core/limits';
import { outcomeQuery, versionQuery } from '../../workflows/definitions';
import { replayHistories, type History } from '../../testing/replay';
import { loadTestApp } from '../support/apps';
import { eventually, startTestStack, uniqueId, type TestStack } from '../support/stack';
import { startLoad, type AccountCommand } from './support/load';
import { assertAccounted, audit, describeReport } from './support/verify';

const early = 50;
const refusals = 1_200;

type Answer = { error?: { data?: { domainCode?: string | null; httpStatus?: number } } };

describe('a retry after the dedupe window’s count is exhausted', { timeout: 600_000 }, () => {
  // Nothing is taken away here, so the shared broker and Redis do (names unique to the run).
  let stack: TestStack;
  let apiUrl: string;
  before(async () => {
    stack = await startTestStack({ app: await loadTestApp('audited') });
    apiUrl = stack.api!.url;
  });
  after(async () => {
    await stack?.stop();
  });

  /** One attempt of a command, as a client retrying it late sends it: its answer's code, or `ok`. */
  const sendOnce = async (accountId: string, commandId: string, command: AccountCommand): Promise<string> => {
    const response = await fetch(`${apiUrl}/trpc/account.${command.type}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ accountId, commandId, entryId: command.entryId, amount: command.amountCents / 100 }),
      signal: AbortSignal.timeout(30_000),
    });
    if (response.ok) return 'ok';
    const body = (await response.json()) as Answer;
    return body.error?.data?.domainCode ?? `HTTP ${response.status}`;
  };

  it(`refuses ${early} late retries after ${refusals} refusals and the count bounds COMMAND_ID_EXPIRED, applying none twice`, async () => {
    const running = startLoad({ apiUrl: apiUrl, prefix: uniqueId('dedupe'), hotSenders: 20, manySenders: 0, accountsPerSender: 1 });
    const hot = running.hotAccount;
    const handle = stack.temporal.workflow.getHandle(`account:${hot}`);
    let figures = '';
    const retried: Record<string, number> = {};
    const histories: Record<string, History> = {};
    try {
      const first = Array.from({ length: early }, () => {
        const commandId = uuidv7();
        return { commandId, command: { type: 'deposit', entryId: commandId, amountCents: 100 } satisfies AccountCommand };
      });
      await Promise.all(first.map(({ commandId, command }) => running.send(hot, commandId, command)));
      const startedAt = Date.now();
      const startVersion = await handle.query(versionQuery);

      // Refusals between: each its own id, none retried (refused for good), none may push an acceptance out.
      const refusedCodes: Record<string, number> = {};
      for (let i = 0; i < refusals; i += 50) {
        const codes = await Promise.all(
          Array.from({ length: 50 }, () => {
            const commandId = uuidv7();
            return sendOnce(hot, commandId, { type: 'withdraw', entryId: commandId, amountCents: 100_000_000 });
          }),
        );
        for (const code of codes) refusedCodes[code] = (refusedCodes[code] ?? 0) + 1;
      }
      assert.ok((refusedCodes.INSUFFICIENT_FUNDS ?? 0) >= refusals * 0.9, `refused: ${JSON.stringify(refusedCodes)}`);

      // Newer acceptances until the count bounds (the full records, then the compact ones) let every early one go.
      const acked = first.filter(({ commandId }) => running.tally.acknowledged.has(commandId));
      // They are let go in the order they were decided: once the last one is, all are.
      const versionOf = async (commandId: string) => {
        const known = await handle.query(outcomeQuery, commandId);
        return known.status === 'accepted' ? known.version : 0;
      };
      const versions = await Promise.all(acked.map(({ commandId }) => versionOf(commandId)));
      const last = acked[versions.indexOf(Math.max(...versions))]!.commandId;
      await eventually(
        async () => {
          if ((await handle.query(outcomeQuery, last)).status === 'unknown') return true;
          await new Promise((resolve) => setTimeout(resolve, 500));
          return undefined;
        },
        400_000,
        'every early command let go',
      );
      const decidedIn = Date.now() - startedAt;
      const newer = (await handle.query(versionQuery)) - startVersion;
      assert.ok(newer > limits.acceptedOutcomesKept, `${newer} newer acceptances`);

      // The late retries, with the same ids and inputs, as the README advises.
      for (const { commandId, command } of acked) {
        const code = await sendOnce(hot, commandId, command);
        retried[code] = (retried[code] ?? 0) + 1;
      }
      let handOvers = 0;
      for await (const _ of stack.temporal.workflow.list({ query: `WorkflowId = 'account:${hot}' AND ExecutionStatus = 'ContinuedAsNew'` })) handOvers += 1;
      figures = `${newer} newer acceptances and ${refusals} refusals (${JSON.stringify(refusedCodes)}) in ${decidedIn} ms, ${handOvers} hand-over(s); late retries: ${JSON.stringify(retried)}`;
      assert.ok(handOvers >= 1, `the hot account handed over (${figures})`);
    } finally {
      await running.stop();
      // Every run of the hot aggregate, for the replay below (and kept when LF_KEEP_HISTORY names a place).
      for await (const run of stack.temporal.workflow.list({ query: `WorkflowId = 'account:${hot}'` })) {
        const history = await stack.temporal.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
        histories[run.runId] = history;
        if (process.env.LF_KEEP_HISTORY) writeFileSync(`${process.env.LF_KEEP_HISTORY}-${run.runId}.json`, JSON.stringify(history));
      }
    }
    const report = { ...(await audit(stack, 'dedupe', running)), fault: figures };
    console.log(describeReport(report));
    assertAccounted(report);
    assert.deepEqual(retried, { [engineCodes.COMMAND_ID_EXPIRED]: early }, `every late retry refused COMMAND_ID_EXPIRED, none decided again: ${figures}`);
    // A worker that evicted the hot aggregate (a restart, a deploy, a query on a cold worker)
    // replays these histories: each must replay. Polled by queries while it decided, as here,
    // a run that decided in a local activity did not (TMPRL1100, "Update machine does not handle this event").
    assert.ok(Object.keys(histories).length >= 2, 'the hot account’s runs were read back');
    assert.deepEqual(await replayHistories(stack.app, histories, { tracing: 'off' }), [], 'every run of the hot aggregate replays');
  });
});
