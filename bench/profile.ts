/**
 * Where the CPU went: summarises V8 CPU profiles (`node --cpu-prof`) by self time per function
 * and per package, so a profile of a benchmark run reads in a terminal.
 *   BENCH_CPU_PROFILE=bench/results/profiles BENCH_PHASES=ledgerflow BENCH_DEPLOYMENTS=processes npm run bench
 *   npm run bench:profile -- bench/results/profiles          every .cpuprofile in the folder
 * (the spawned processes write one each; for everything in one process, run
 *  node --cpu-prof --cpu-prof-dir=bench/results/profiles --import tsx bench/run.ts with BENCH_DEPLOYMENTS=in-process)
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** `node_modules/<package>`, the project folder, or node's internals. */
function ownerOf(url: string): string {
  if (!url) return '(native / idle / gc)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith('node:')) return 'node (internals)';
  const project = /\/(core|domain|workflows|activities|projectors|api|infra|bin|bench|commands)\//.exec(url);
  return project ? `ledgerflow ${project[1]}/` : url.replace(/^file:\/\//, '');
}

function summarize(file: string, top: number): void {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfMs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfMs.set(id, (selfMs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000));
  const total = [...selfMs.values()].reduce((a, b) => a + b, 0);
  // Which entry point (or thread) this was: the file names tell.
  const urls = profile.nodes.map((n) => n.callFrame.url);
  const role =
    urls.map((u) => /\/(bin\/\w+|bench\/ceiling\/worker|bench\/run)\.ts/.exec(u)?.[1]).find(Boolean) ??
    (urls.some((u) => u.includes('workflow-bundle') || u.includes('@temporalio/workflow')) ? 'workflow thread' : 'thread');
  const functions = new Map<string, number>();
  const owners = new Map<string, number>();
  for (const [id, ms] of selfMs) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const name = `${functionName || '(anonymous)'}  ${url ? `${url.replace(/^file:\/\//, '').replace(/.*node_modules\//, '')}:${lineNumber + 1}` : ''}`;
    functions.set(name, (functions.get(name) ?? 0) + ms);
    owners.set(ownerOf(url), (owners.get(ownerOf(url)) ?? 0) + ms);
  }
  const rows = (m: Map<string, number>, n: number) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, ms]) => `  ${((100 * ms) / total).toFixed(1).padStart(5)}%  ${(ms / 1000).toFixed(1).padStart(7)} s  ${name}`)
      .join('\n');
  console.log(`\n${basename(file)} (${role}): ${(total / 1000).toFixed(1)} s sampled\n by package:\n${rows(owners, 15)}\n by function (self time):\n${rows(functions, top)}`);
}

const target = process.argv[2] ?? join(__dirname, 'results', 'profiles');
const top = Number(process.argv[3] ?? 25);
const files = statSync(target).isDirectory()
  ? readdirSync(target)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => join(target, f))
  : [target];
if (files.length === 0) console.error(`no .cpuprofile files in ${target}`);
for (const file of files) summarize(file, top);
