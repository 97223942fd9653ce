import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import type { History } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { bundleOptionsOf } from '../../bin/worker';
import { loadShop } from '../support/apps';
import { historiesDir, recordScenarios } from '../support/histories';
import { startTestStack, type TestStack } from '../support/stack';

/** The shop's workflows, bundled from its config as its worker bundles them. */
async function replayAll(histories: Record<string, History>) {
  const replayOptions = bundleOptionsOf(await loadShop());
  const failures: string[] = [];
  const iterable = Object.entries(histories).map(([workflowId, history]) => ({ workflowId, history }));
  for await (const result of Worker.runReplayHistories(replayOptions, iterable)) {
    if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
  }
  return failures;
}

describe('determinism guard: replaying aggregate histories with the current workflow code', { timeout: 180_000 }, () => {
  it('replays every recorded history in test/fixtures/histories', async () => {
    const files = (readdirSync(historiesDir, { recursive: true }) as string[]).filter((f) => f.endsWith('.json'));
    assert.ok(files.length >= 2, 'recorded histories are present (npm run record:histories)');
    const histories = Object.fromEntries(files.map((f) => [f, historyFromJSON(JSON.parse(readFileSync(join(historiesDir, f), 'utf8')))]));
    assert.deepEqual(await replayAll(histories), []);
  });

  describe('histories produced now', () => {
    let stack: TestStack;
    before(async () => {
      stack = await startTestStack({ api: false, projector: false });
    });
    after(async () => {
      await stack?.stop();
    });

    it('replays the histories this run produces, continue-as-new runs included', async () => {
      const histories = await recordScenarios(stack);
      assert.ok(Object.keys(histories).filter((name) => name.startsWith('continue-as-new')).length >= 2, 'the aggregate continued as new');
      assert.deepEqual(await replayAll(histories), []);
    });
  });
});
