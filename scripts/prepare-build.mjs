// npm runs `prepare` on a plain `npm install` in a checkout, and in the clone it makes when an
// app installs Ledgerflow from git. Build only when there are sources and no build yet: a
// checkout's later installs keep their dist/ (`npm run build` refreshes it), and the Dockerfile's
// install (package files only) has nothing to build. `npm pack` builds afresh in `prepack`.
import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';

if (existsSync('tsconfig.build.json') && !existsSync('dist/index.js')) {
  execSync('npm run build', { stdio: 'inherit' });
}
