/**
 * Replay rate of a projection rebuild against raw Redis writes of the same keys, on its own
 * (`make bench` measures it too, beside everything else).
 *   npm run bench:rebuild              50,000 events
 *   npm run bench:rebuild -- 200000    another count
 */
import { uniqueId } from '../test/support/stack';
import { measureReplayPhase } from './replay/phase';
import { withCleanup } from './support/cleanup';

const events = Number(process.argv[2] ?? 50_000);

withCleanup(async (cleanup) => {
  const figures = await measureReplayPhase(uniqueId('bench'), events, cleanup);
  console.log(`replay / redis ceiling = ${figures.ratioReplayToRedis}`);
}).catch((error) => {
  console.error(error);
  process.exit(1);
});
