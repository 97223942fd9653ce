/**
 * The README's snippets, checked: a fresh `ledgerflow init` app is written into a temporary
 * folder of this repository (so `ledgerflow`, `ledgerflow/server`, `ledgerflow/workflow`,
 * `ledgerflow/testing` and `@ledgerflow/client` resolve as an installed app's do), every ```ts
 * block is added to it, and the app is type-checked with the compiler's API, its config loaded
 * and its decider tests run. A block whose first line is `// <path>.ts` becomes that file of the
 * app (so "Adding an aggregate" is applied literally); any other block becomes a file of its own
 * at the app's root. A block after `<!-- snippet: excerpt <file> -->` must match that file of
 * this repository line for line (`…` elides); one after `<!-- snippet: skip <reason> -->` is
 * not checked. The CLI commands, make targets and repository paths the README names must exist.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { after, before, describe, it } from 'node:test';
import ts from 'typescript';
import { commands } from '../../cli/args';
import { initApp } from '../../cli/init';
import { createRouter, procedurePathsOf } from '../../api/router';
import { loadApp } from '../../infra/app-loader';

const root = join(__dirname, '..', '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

interface Block {
  lang: string;
  code: string;
  /** 1-based line of the opening fence in README.md. */
  line: number;
  /** The `<!-- snippet: ... -->` marker right before the block, if any. */
  marker: { kind: 'skip' | 'excerpt'; arg: string } | null;
}

export function codeBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  let previous = '';
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]!);
    if (!open) {
      if (lines[i]!.trim()) previous = lines[i]!.trim();
      continue;
    }
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
    assert.ok(i < lines.length, `README.md:${start + 1}: a code block is never closed`);
    const marker = /^<!-- snippet: (skip|excerpt) (.+?) -->$/.exec(previous);
    blocks.push({ lang: open[1]!, code: body.join('\n') + '\n', line: start + 1, marker: marker ? { kind: marker[1] as 'skip' | 'excerpt', arg: marker[2]! } : null });
    previous = '';
  }
  return blocks;
}

const blocks = codeBlocks(readme);
const tsBlocks = blocks.filter((b) => b.lang === 'ts' || b.lang === 'typescript');
const namedFile = (block: Block) => /^\/\/ ((?:[\w.-]+\/)*[\w.-]+\.ts)\s*$/.exec(block.code.split('\n')[0]!)?.[1];

/** Where the app is written: a dot-folder, which the repository's own tsconfig does not include. */
const workDir = join(root, 'test', `.readme-${process.pid}-${Date.now().toString(36)}`);
const appDir = join(workDir, 'app');
/** The app's file (relative) → the README line it came from. */
const origins = new Map<string, number>();

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.name === 'node_modules' ? [] : entry.isDirectory() ? filesUnder(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

before(() => {
  mkdirSync(workDir, { recursive: true });
  initApp({ dir: appDir });
  for (const block of tsBlocks) {
    if (block.marker) continue;
    const file = namedFile(block) ?? `readme-snippet-line-${block.line}.ts`;
    assert.ok(!origins.has(file), `README.md:${block.line}: ${file} is written twice (also at line ${origins.get(file)})`);
    origins.set(file, block.line);
    mkdirSync(dirname(join(appDir, file)), { recursive: true });
    writeFileSync(join(appDir, file), block.code);
  }
});

after(() => rmSync(workDir, { recursive: true, force: true }));

describe('README.md', () => {
  it('has TypeScript snippets, each an app file, an excerpt of a file here, or skipped for a stated reason', () => {
    assert.ok(tsBlocks.length >= 10, `only ${tsBlocks.length} TypeScript snippets found`);
    const skipped = tsBlocks.filter((b) => b.marker?.kind === 'skip');
    assert.ok(skipped.length <= 3, `${skipped.length} snippets are skipped (lines ${skipped.map((b) => b.line).join(', ')}): check them instead`);
    for (const block of skipped) assert.ok(block.marker!.arg.trim().length >= 10, `README.md:${block.line}: say why the snippet is skipped`);
    // The whole path of "Adding an aggregate" is in files, so it is checked as one app.
    for (const file of ['domain/card/state.ts', 'domain/card/card.ts', 'domain/card/projection.ts', 'domain/card/queries.ts', 'domain/card/index.ts', 'ledgerflow.config.ts', 'test/card.unit.test.ts']) {
      assert.ok(origins.has(file), `no snippet writes ${file}`);
    }
  });

  it('type-checks as an app written by ledgerflow init, with every snippet added', () => {
    const configFile = ts.readConfigFile(join(appDir, 'tsconfig.json'), ts.sys.readFile);
    assert.equal(configFile.error, undefined);
    const parsed = ts.parseJsonConfigFileContent(configFile.config, ts.sys, appDir);
    // The engine's sources, as this repository's tests and typecheck read them.
    const options: ts.CompilerOptions = { ...parsed.options, customConditions: ['ledgerflow-source'], noEmit: true };
    const rootNames = filesUnder(appDir).filter((file) => file.endsWith('.ts'));
    const program = ts.createProgram({ rootNames, options });

    // Not vacuous: the snippets are in the program and `ledgerflow` resolved to the engine's sources.
    for (const file of origins.keys()) assert.ok(program.getSourceFile(join(appDir, file)), `${file} is not in the program`);
    for (const entry of ['index.ts', 'server.ts', 'testing/given.ts', 'client/index.ts']) {
      assert.ok(program.getSourceFile(join(root, entry)), `${entry} was not reached: does the README import its entry point?`);
    }

    const inApp = (d: ts.Diagnostic) => !d.file || d.file.fileName.startsWith(appDir + sep) || d.file.fileName.startsWith(appDir + '/');
    const diagnostics = ts.getPreEmitDiagnostics(program).filter(inApp);
    const described = diagnostics.map((d) => {
      const message = ts.flattenDiagnosticMessageText(d.messageText, '\n  ');
      if (!d.file || d.start === undefined) return message;
      const file = relative(appDir, d.file.fileName).split(sep).join('/');
      const { line } = d.file.getLineAndCharacterOfPosition(d.start);
      const origin = origins.get(file);
      return origin === undefined ? `${file}:${line + 1} (from ledgerflow init): ${message}` : `README.md:${origin + 1 + line} (${file}:${line + 1}): ${message}`;
    });
    assert.deepEqual(described, [], `the README's snippets do not compile:\n${described.join('\n')}`);
  });

  it("loads the config the snippets make, and serves the added aggregate's procedures", async () => {
    const app = await loadApp(join(appDir, 'ledgerflow.config.ts'));
    assert.deepEqual(Object.keys(app.config.modules).sort(), ['account', 'card']);
    const paths = procedurePathsOf(createRouter(app.config));
    for (const path of ['card.issue', 'card.changeLimit', 'card.block', 'card.get', 'card.onChange', 'card.forAccount', 'account.open']) {
      assert.ok(paths.includes(path), `no ${path} among ${paths.join(', ')}`);
    }
  });

  it("passes the README's decider tests in that app", () => {
    const tests = filesUnder(join(appDir, 'test')).filter((f) => f.endsWith('.test.ts'));
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--test', ...tests], {
      cwd: appDir,
      encoding: 'utf8',
      // Without this runner's context, which would make the child skip its files.
      env: { ...process.env, NODE_OPTIONS: '--conditions=ledgerflow-source', NODE_TEST_CONTEXT: undefined },
    });
    const output = `${run.stdout}\n${run.stderr}`;
    assert.equal(run.status, 0, output);
    assert.match(output, /card decider/);
    assert.match(output, /# fail 0/);
  });

  it('quotes the files it names as excerpts exactly', () => {
    const excerpts = tsBlocks.filter((b) => b.marker?.kind === 'excerpt');
    assert.ok(excerpts.length > 0);
    for (const block of excerpts) {
      const file = join(root, block.marker!.arg);
      assert.ok(existsSync(file), `README.md:${block.line}: no file ${block.marker!.arg}`);
      const lines = readFileSync(file, 'utf8').split('\n').map((l) => l.trim());
      let at = 0;
      block.code.split('\n').forEach((raw, i) => {
        const line = raw.trim();
        if (!line || line === '…') return;
        const found = lines.indexOf(line, at);
        assert.ok(found >= 0, `README.md:${block.line + 1 + i}: not in ${block.marker!.arg} (after its line ${at}): ${line}`);
        at = found + 1;
      });
    }
  });

  it('names only CLI commands, make targets and repository paths that exist', () => {
    const known = new Set(Object.keys(commands));
    const invoked = [...readme.matchAll(/(?:npx (?:--package \S+ )?ledgerflow|npm run ledgerflow --|^\s*ledgerflow|`ledgerflow) ([a-z][a-z-]*)/gm)].map((m) => m[1]!);
    assert.ok(invoked.length >= 10, `only ${invoked.length} CLI invocations found`);
    for (const command of invoked) assert.ok(known.has(command), `the README runs \`ledgerflow ${command}\`, which cli/args.ts does not know`);
    for (const command of known) assert.ok(readme.includes(`| \`${command}`), `the README's command table lacks \`${command}\``);

    const makefile = readFileSync(join(root, 'Makefile'), 'utf8');
    for (const [, target] of readme.matchAll(/(?:^|`)make ([a-z][a-z-]*)/gm)) {
      assert.match(makefile, new RegExp(`^${target}:`, 'm'), `the README names \`make ${target}\`, which the Makefile lacks`);
    }

    // Folders that exist only once something ran (make up, a test, a deploy step).
    const madeLater = ['examples/shop/.ledgerflow', 'test/artifacts', 'deploy/prometheus/secrets/api-metrics-token', 'bench/results'];
    const top = 'examples|test|deploy|scripts|bench|core|api|workflows|activities|projectors|infra|cli|bin|client|templates|testing|commands';
    // A rate (commands/s) is not a path: a path's next segment has two characters at least.
    const pathPattern = new RegExp(`(?<![\\w./-])((?:${top})/[\\w.-]{2,}(?:[\\w./-]*[\\w/])?)`, 'g');
    const named = new Set([...readme.matchAll(pathPattern)].map((m) => m[1]!));
    assert.ok(named.size >= 30, `only ${named.size} paths found`);
    for (const path of named) {
      if (madeLater.some((later) => path.startsWith(later))) continue;
      // Paths of the app the README builds (test/card.unit.test.ts, test/account.unit.test.ts) are the app's.
      if (origins.has(path) || existsSync(join(appDir, path))) continue;
      assert.ok(existsSync(join(root, path)), `the README names ${path}, which does not exist`);
    }
  });
});
