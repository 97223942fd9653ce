/** A tiny server run the way every entry point runs (runMain/onShutdown), for the process-guard test. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { onShutdown, runMain } from '../../bin/main';

runMain(async () => {
  const server = createServer((req, res) => {
    if (req.url === '/reject') {
      void Promise.reject(new Error('a stray rejection'));
      res.end('rejected in the background');
    } else if (req.url === '/throw') {
      setTimeout(() => {
        throw new Error('a stray throw');
      });
      res.end('throwing in the background');
    } else if (req.url === '/slow') {
      setTimeout(() => res.end('slow done'), 1500);
    } else res.end('ok');
  });
  server.listen(0, '127.0.0.1', () => console.log(`listening ${(server.address() as AddressInfo).port}`));
  onShutdown(() => new Promise((resolve) => server.close(resolve)));
}, 'guarded');
