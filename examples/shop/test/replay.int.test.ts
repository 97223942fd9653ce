/**
 * The determinism check an app runs before it deploys: the shop's recorded histories (and the
 * ones this run records) replay with its current workflow code, so a release that would break
 * running aggregates or checkouts fails here, not in production.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { readHistories, replayHistories } from 'ledgerflow/testing/replay';
import { historiesDir, recordingStack, recordScenarios } from '../scripts/record-histories';
import { shopConfigPath, startShopStack, type ShopStack } from './support/shop';

describe('determinism: replaying the shop’s workflow histories with the current workflow code', { timeout: 300_000 }, () => {
  it('replays every recorded history in test/histories', async () => {
    const histories = readHistories(historiesDir);
    assert.ok(Object.keys(histories).length >= 2, 'recorded histories are present (npm run record:histories)');
    assert.ok(Object.keys(histories).some((name) => name.includes('checkout')), 'a checkout process is among them');
    assert.deepEqual(await replayHistories(shopConfigPath, histories), []);
  });

  describe('histories produced now', () => {
    let stack: ShopStack;
    before(async () => {
      stack = await startShopStack(recordingStack);
    });
    after(async () => {
      await stack?.stop();
    });

    it('replays the histories this run produces, a checkout and continue-as-new runs included', async () => {
      const histories = await recordScenarios(stack);
      assert.ok(Object.keys(histories).filter((name) => name.startsWith('continue-as-new')).length >= 2, 'the aggregate continued as new');
      assert.ok(histories.checkout, 'the checkout process completed');
      assert.deepEqual(await replayHistories(stack.app, histories), []);
    });
  });
});
