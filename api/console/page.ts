import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The projection console: static files beside this module (index.html, console.css, console.js;
 * no build step, no data of their own). Its script calls the admin procedures with the token the
 * user pastes, or passes as `/console#token=…`. `npm run build` copies the files beside the
 * compiled module, so the package serves them as they are here.
 */
export interface ConsoleFile {
  /** Below the page's own path: '' for the page, '/console.css', '/console.js'. */
  route: string;
  contentType: string;
  body: Buffer;
}

const files: [route: string, name: string, contentType: string][] = [
  ['', 'index.html', 'text/html; charset=utf-8'],
  ['/console.css', 'console.css', 'text/css; charset=utf-8'],
  ['/console.js', 'console.js', 'text/javascript; charset=utf-8'],
];

/** Read once, when a server mounts the console. */
export function readConsoleFiles(dir: string = __dirname): ConsoleFile[] {
  return files.map(([route, name, contentType]) => ({ route, contentType, body: readFileSync(join(dir, name)) }));
}

/**
 * Only the console's own script and style run (from its own origin: every other answer of the
 * API is JSON or plain text, and `nosniff` keeps a browser from running it as a script); it talks
 * to its own origin only.
 */
const contentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The headers of every console file. They need no token: they hold no data, and every call the page makes needs an admin token. */
export const consoleHeaders = {
  'content-security-policy': contentSecurityPolicy,
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
} as const;
