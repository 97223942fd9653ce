import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { UsageError } from '../../cli/args';
import { dependencySpec, engineRoot, initApp, packageName, templateDir } from '../../cli/init';

const work = mkdtempSync(join(tmpdir(), 'ledgerflow-init-unit-'));
after(() => rmSync(work, { recursive: true, force: true }));

const usageError = (message: RegExp) => (error: unknown) => error instanceof UsageError && error.command === 'init' && message.test(error.message);

describe('ledgerflow init', () => {
  it('finds the engine and its templates from the source tree', () => {
    assert.equal(JSON.parse(readFileSync(join(engineRoot(), 'package.json'), 'utf8')).name, 'ledgerflow');
    assert.ok(readdirSync(templateDir()).includes('ledgerflow.config.ts'));
  });

  it('names the package after the folder, as npm allows', () => {
    assert.equal(packageName('/x/My App'), 'my-app');
    assert.equal(packageName('/x/.hidden_thing'), 'hidden_thing');
    assert.equal(packageName('/x/___'), 'ledgerflow-app');
  });

  it('makes paths absolute from where it runs and keeps versions and URLs as given', () => {
    writeFileSync(join(work, 'ledgerflow-0.1.0.tgz'), '');
    assert.equal(dependencySpec('ledgerflow', './ledgerflow-0.1.0.tgz', work), `file:${join(work, 'ledgerflow-0.1.0.tgz')}`);
    assert.equal(dependencySpec('ledgerflow', 'ledgerflow-0.1.0.tgz', work), `file:${join(work, 'ledgerflow-0.1.0.tgz')}`);
    assert.equal(dependencySpec('ledgerflow', 'file:ledgerflow-0.1.0.tgz', work), `file:${join(work, 'ledgerflow-0.1.0.tgz')}`);
    assert.equal(dependencySpec('ledgerflow', '..', join(work, 'sub')), `file:${work}`);
    for (const spec of ['0.1.0', '^0.1.0', 'github:someone/ledgerflow#v0.1.0', 'https://example.com/ledgerflow-0.1.0.tgz']) {
      assert.equal(dependencySpec('ledgerflow', spec, work), spec);
    }
    assert.throws(() => dependencySpec('client', './missing.tgz', work), usageError(/--client: no such file or folder: .*missing\.tgz/));
    assert.throws(() => dependencySpec('client', ' ', work), usageError(/--client needs a version, a path or a URL/));
  });

  it('writes into a new or an empty folder, and refuses a folder with anything in it or a file', () => {
    const fresh = initApp({ dir: 'fresh' }, work);
    assert.equal(fresh.name, 'fresh');
    assert.ok(fresh.files.includes('.gitignore') && !fresh.files.includes('gitignore'));
    mkdirSync(join(work, 'empty'));
    assert.ok(initApp({ dir: 'empty', client: 'file:ledgerflow-0.1.0.tgz' }, work).files.includes('package.json'));
    const manifest = JSON.parse(readFileSync(join(work, 'empty', 'package.json'), 'utf8'));
    assert.equal(manifest.dependencies['@ledgerflow/client'], `file:${join(work, 'ledgerflow-0.1.0.tgz')}`);

    mkdirSync(join(work, 'taken'));
    writeFileSync(join(work, 'taken', 'notes.txt'), 'mine');
    assert.throws(() => initApp({ dir: 'taken' }, work), usageError(/taken is not empty \(notes\.txt\): init writes a new app into an empty or new folder/));
    assert.deepEqual(readdirSync(join(work, 'taken')), ['notes.txt']);
    assert.throws(() => initApp({ dir: 'taken/notes.txt' }, work), usageError(/notes\.txt is a file/));
  });

  it("the template's README describes each of its source files", () => {
    const readme = readFileSync(join(templateDir(), 'README.md'), 'utf8');
    const sources = (dir: string, prefix = ''): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name), `${prefix}${e.name}/`) : e.name.endsWith('.ts') ? [`${prefix}${e.name}`] : []));
    for (const file of sources(templateDir())) assert.match(readme, new RegExp(`\\| \`${file.replace(/\./g, '\\.')}\` \\|`), `${file} is not in the README's table`);
  });
});
