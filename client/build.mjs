// Builds @ledgerflow/client into dist/ with nothing left to install: @trpc/client and eventsource
// bundled into the JavaScript (ESM and CJS for Node, ESM for browsers without the EventSource
// ponyfill), and one declaration file with the @trpc/client and @trpc/server types it needs
// inlined. Depending on those packages instead would make npm install their peer `typescript`
// (35 MB) into every client-only app.
import { copyFileSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { rollup } from 'rollup';
import { dts } from 'rollup-plugin-dts';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');
const entry = join(here, 'index.ts');
rmSync(dist, { recursive: true, force: true });

const common = { entryPoints: [entry], bundle: true, logLevel: 'warning', legalComments: 'inline', sourcemap: false };

// Browsers have EventSource: the ponyfill (and its fetch-based parser) stays out of their bundle.
const nativeEventSource = {
  name: 'native-eventsource',
  setup(b) {
    b.onResolve({ filter: /^eventsource$/ }, () => ({ path: 'eventsource', namespace: 'native-eventsource' }));
    b.onLoad({ filter: /.*/, namespace: 'native-eventsource' }, () => ({ contents: 'export const EventSource = globalThis.EventSource;', loader: 'js' }));
  },
};

await Promise.all([
  build({ ...common, platform: 'node', target: 'node20', format: 'esm', outfile: join(dist, 'index.mjs') }),
  build({ ...common, platform: 'node', target: 'node20', format: 'cjs', outfile: join(dist, 'index.cjs') }),
  build({ ...common, platform: 'browser', target: 'es2022', format: 'esm', outfile: join(dist, 'index.browser.mjs'), plugins: [nativeEventSource] }),
]);

// One .d.ts: ours, with the tRPC and eventsource types it names inlined (respectExternal).
const bundle = await rollup({
  input: entry,
  plugins: [
    dts({
      respectExternal: true,
      compilerOptions: { target: 99, module: 199, moduleResolution: 99, strict: true, skipLibCheck: true, lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'], types: [] },
    }),
  ],
  onwarn(warning, warn) {
    if (warning.code !== 'CIRCULAR_DEPENDENCY') warn(warning);
  },
});
const types = join(dist, 'index.d.mts');
await bundle.write({ file: types, format: 'es' });
await bundle.close();

if (/(from|import\()\s*['"](@trpc\/|eventsource)/.test(readFileSync(types, 'utf8'))) throw new Error('build: the bundled types still import @trpc or eventsource');
copyFileSync(types, join(dist, 'index.d.cts'));
