import { join } from 'node:path';

export const repoRoot = join(__dirname, '..', '..');
export const resultsDir = join(repoRoot, 'bench', 'results');
/** Output of the processes the benchmark spawns (not committed). */
export const logsDir = join(resultsDir, 'logs');
