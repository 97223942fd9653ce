/** Redis: nothing to create; it must answer and run Lua (every projection commit is a script). */
import type { Config } from '../../core/config';
import { within } from '../deadline';
import { closeRedis, createRedis } from '../redis';
import { answerMs, noAnswer, SetupProblem, type SetupReport } from './report';

export async function checkRedis(config: Config, report: SetupReport) {
  const where = new URL(config.REDIS_URL).host;
  const redis = createRedis(config.REDIS_URL, 'ledgerflow-setup', undefined, { failFast: true });
  try {
    await within(answerMs, redis.connect(), noAnswer(`Redis at ${where}`));
    const lua = await within(answerMs, redis.eval('return 1'), noAnswer(`Redis at ${where}`));
    if (Number(lua) !== 1) throw new SetupProblem(`Redis at ${where} does not run Lua scripts; every projection commit is one`);
    report.checked.push(`Redis at ${where} answers and runs Lua (nothing to create: projections create their keys under '${config.REDIS_PREFIX}:')`);
    // Managed Redis may refuse CONFIG: then there is nothing more to say.
    const policy = await redis.configGet('maxmemory-policy').catch(() => null);
    const evicts = policy?.['maxmemory-policy'];
    if (evicts && evicts !== 'noeviction') {
      report.checked.push(`Redis maxmemory-policy is ${evicts}: evicted read models are rebuilt from the log, but an evicted lease or checkpoint costs a rebuild (noeviction recommended)`);
    }
  } finally {
    await closeRedis(redis, 1000);
  }
}
