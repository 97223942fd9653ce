/**
 * `ledgerflow init <dir>`: writes a new app from templates/app (real files, type-checked with the
 * engine): its package.json with the dependencies at this engine's versions, or at the tarballs,
 * folders or git URLs given with --ledgerflow and --client until the packages are published.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { UsageError } from './args';

export interface InitOptions {
  /** Where the app goes: created if missing, refused unless empty. */
  dir: string;
  /** The npm spec of `ledgerflow`: a version, a tarball or folder path, a git URL (default: this engine's version). */
  ledgerflow?: string;
  /** The npm spec of `@ledgerflow/client`, the same way. */
  client?: string;
}

export interface InitResult {
  dir: string;
  name: string;
  /** The files written, relative to `dir`. */
  files: string[];
}

interface PackageJson {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  [key: string]: unknown;
}

const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as PackageJson;

/** The engine's own folder: where its package.json (and templates/) are, run from source or from dist/. */
export function engineRoot(from: string = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && readJson(manifest).name === 'ledgerflow') return dir;
    if (dirname(dir) === dir) throw new Error(`no ledgerflow package.json above ${from}`);
  }
}

export const templateDir = (root = engineRoot()) => join(root, 'templates', 'app');

/** npm skips `.gitignore` files when packing, so the template keeps it as `gitignore`. */
const renamed: Readonly<Record<string, string>> = { gitignore: '.gitignore' };

function templateFiles(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.name !== 'node_modules')
    .flatMap((entry) => (entry.isDirectory() ? templateFiles(join(dir, entry.name), `${prefix}${entry.name}/`) : [`${prefix}${entry.name}`]))
    .sort();
}

/** A valid npm package name from the folder's name. */
export function packageName(dir: string): string {
  const name = basename(resolve(dir))
    .toLowerCase()
    .replace(/[^a-z0-9._~-]+/g, '-')
    .replace(/^[._-]+|-+$/g, '');
  return name || 'ledgerflow-app';
}

/**
 * A dependency spec as the app's package.json needs it: paths (a tarball, a folder, `file:`) made
 * absolute from where init runs, since npm reads them from the app's folder; versions, ranges and
 * URLs as given.
 */
export function dependencySpec(option: string, spec: string, cwd: string): string {
  if (!spec.trim()) throw new UsageError(`--${option} needs a version, a path or a URL`, 'init');
  const isPath = spec.startsWith('file:') || (!/^[a-z][a-z0-9+.-]*:/i.test(spec) && (/^\.{0,2}(\/|$)/.test(spec) || /\.(tgz|tar\.gz)$/.test(spec)));
  if (!isPath) return spec;
  const absolute = resolve(cwd, spec.replace(/^file:/, ''));
  if (!existsSync(absolute)) throw new UsageError(`--${option}: no such file or folder: ${absolute}`, 'init');
  return `file:${absolute}`;
}

/** Writes the starter app into `options.dir`; a UsageError when the folder is not empty. */
export function initApp(options: InitOptions, cwd: string = process.cwd(), root: string = engineRoot()): InitResult {
  const dir = resolve(cwd, options.dir);
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new UsageError(`${dir} is a file: init writes a new app into an empty or new folder`, 'init');
    const entries = readdirSync(dir);
    if (entries.length > 0) {
      const shown = entries.slice(0, 5).join(', ') + (entries.length > 5 ? ', ...' : '');
      throw new UsageError(`${dir} is not empty (${shown}): init writes a new app into an empty or new folder`, 'init');
    }
  }
  const ledgerflow = options.ledgerflow === undefined ? undefined : dependencySpec('ledgerflow', options.ledgerflow, cwd);
  const client = options.client === undefined ? undefined : dependencySpec('client', options.client, cwd);

  const engine = readJson(join(root, 'package.json'));
  const from = templateDir(root);
  const name = packageName(dir);
  const files: string[] = [];
  mkdirSync(dir, { recursive: true });
  for (const file of templateFiles(from)) {
    const target = renamed[file] ?? file;
    mkdirSync(dirname(join(dir, target)), { recursive: true });
    if (file === 'package.json') writeFileSync(join(dir, target), JSON.stringify(appManifest(readJson(join(from, file)), engine, name, ledgerflow, client), null, 2) + '\n');
    else if (file === 'README.md') writeFileSync(join(dir, target), readFileSync(join(from, file), 'utf8').replace(/^# .*$/m, `# ${name}`));
    else cpSync(join(from, file), join(dir, target));
    files.push(target);
  }
  return { dir, name, files };
}

/** The template's package.json with the app's name and the engine's versions (or the given specs). */
function appManifest(template: PackageJson, engine: PackageJson, name: string, ledgerflow?: string, client?: string): PackageJson {
  // The app's zod, tsx and typescript are the engine's own, so one copy of each is installed.
  const pinned = { ...engine.devDependencies, ...engine.dependencies };
  const versions = (deps: Record<string, string> = {}) => Object.fromEntries(Object.entries(deps).map(([dep, version]) => [dep, pinned[dep] ?? version]));
  return {
    ...template,
    name,
    dependencies: {
      ...versions(template.dependencies),
      ledgerflow: ledgerflow ?? engine.version,
      '@ledgerflow/client': client ?? engine.version,
    },
    devDependencies: versions(template.devDependencies),
  };
}

/** What `ledgerflow init` prints: the files and the next commands. */
export function formatInit(result: InitResult, cwd: string = process.cwd()): string {
  const where = relative(cwd, result.dir) || '.';
  return [
    `Created ${result.name} in ${result.dir}:`,
    ...result.files.map((file) => `  ${file}`),
    '',
    'Next:',
    ...(where === '.' ? [] : [`  cd ${where.includes(' ') ? JSON.stringify(where) : where}`]),
    '  npm install',
    '  npm test        # the decider test',
    '  npm run dev     # Temporal, worker, projector and API; then see README.md for a first command',
  ].join('\n');
}
