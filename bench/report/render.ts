/**
 * Rewrites BENCHMARKS.md and the charts from bench/results/latest.json without measuring again
 * (after a change to the report's layout).   npm run bench:report
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { resultsDir } from '../support/paths';
import type { Results } from './results';
import { writeReport } from './write';

const results = JSON.parse(readFileSync(join(resultsDir, 'latest.json'), 'utf8')) as Results;
console.log(`wrote ${writeReport(results).join(', ')}`);
