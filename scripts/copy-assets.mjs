// tsc compiles TypeScript only: the projection console's static files (api/console/index.html,
// console.css, console.js) are copied beside their compiled module, which serves them from there.
import { cpSync, mkdirSync, readdirSync } from 'node:fs';

mkdirSync('dist/api/console', { recursive: true });
for (const name of readdirSync('api/console')) {
  if (!name.endsWith('.ts')) cpSync(`api/console/${name}`, `dist/api/console/${name}`);
}
