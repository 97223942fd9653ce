/** A tiny server run the way every entry point runs (runMain/onShutdown), for the process-guard test. */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { onShutdown, runMain } from '../../bin/main';

runMain(async () => {
  // `/slow` is held until the process has begun stopping, so it is certainly in flight then.
  const held: ServerResponse[] = [];
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
      held.push(res);
      console.log('received /slow');
    } else res.end('ok');
  });
  server.listen(0, '127.0.0.1', () => console.log(`listening ${(server.address() as AddressInfo).port}`));
  onShutdown(() => {
    const closed = new Promise((resolve) => server.close(resolve));
    console.log(`stopping with ${held.length} request(s) in flight`);
    // Answered a while after the stop began: an exit that does not wait for them cuts them off.
    setTimeout(() => held.splice(0).forEach((res) => res.end('slow done')), 500);
    return closed;
  });
}, 'guarded');
