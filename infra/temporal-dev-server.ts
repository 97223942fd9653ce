/**
 * The Temporal CLI's dev server, for local stacks (`ledgerflow dev`, `make up`) and tests: where
 * the CLI is cached, the flags that register Ledgerflow's search attributes, and start/stop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import type { SearchAttributeType } from '@temporalio/common';
import { searchAttributeKeys } from '../workflows/definitions';
import { sleep } from './deadline';

export const temporalCliVersion = 'v1.5.1';

/** Where `scripts/install-temporal.sh` caches the CLI: outside the repo, reused across clones. */
export function temporalCliPath(env: Record<string, string | undefined> = process.env): string {
  return env.TEMPORAL_CLI ?? join(env.LEDGERFLOW_CACHE ?? join(homedir(), '.cache', 'ledgerflow'), `temporal-cli-${temporalCliVersion}`, 'temporal');
}

/** The CLI's (and `temporal operator search-attribute create`'s) name for each type. */
export const cliSearchAttributeType: Record<SearchAttributeType, string> = {
  TEXT: 'Text',
  KEYWORD: 'Keyword',
  INT: 'Int',
  DOUBLE: 'Double',
  BOOL: 'Bool',
  DATETIME: 'Datetime',
  KEYWORD_LIST: 'KeywordList',
};

export const searchAttributeFlags = searchAttributeKeys.flatMap((key) => ['--search-attribute', `${key.name}=${cliSearchAttributeType[key.type]}`]);

/**
 * Server settings Ledgerflow's command path benefits from (set them on a cluster too):
 * eager activity dispatch hands the publish activity to the worker that completed the
 * workflow task, in the same response, instead of through the matching queue.
 */
export const devServerDynamicConfig: Record<string, unknown> = {
  'system.enableActivityEagerExecution': true,
};

export interface DevServerOptions {
  port: number;
  uiPort?: number;
  /** SQLite file; without it the server keeps everything in memory. */
  dbFile?: string;
  dynamicConfig?: Record<string, unknown>;
  /** Registers the workflows' search attributes at start (default); false starts a bare server, like a fresh cluster. */
  searchAttributes?: boolean;
  binary?: string;
  ip?: string;
  log?: (line: string) => void;
}

export interface DevServer {
  address: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts `temporal server start-dev` and resolves once its frontend answers. The CLI picks the
 * ports of its HTTP API and metrics itself, and another process may take one between its pick
 * and its bind (seen once in a full test run): a start that fails to listen is tried again.
 */
export async function startTemporalDevServer(options: DevServerOptions): Promise<DevServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startDevServerOnce(options);
    } catch (error) {
      if (attempt >= 3 || !(error instanceof DevServerExited && /failed listening|address already in use/i.test(error.message))) throw error;
    }
  }
}

class DevServerExited extends Error {}

async function startDevServerOnce(options: DevServerOptions): Promise<DevServer> {
  const ip = options.ip ?? '127.0.0.1';
  const args = ['server', 'start-dev', '--ip', ip, '--port', String(options.port), ...(options.searchAttributes === false ? [] : searchAttributeFlags), '--log-level', 'error'];
  if (options.uiPort) args.push('--ui-port', String(options.uiPort));
  else args.push('--headless');
  if (options.dbFile) args.push('--db-filename', options.dbFile);
  for (const [key, value] of Object.entries({ ...devServerDynamicConfig, ...options.dynamicConfig })) args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);

  const child = spawn(options.binary ?? temporalCliPath(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const collect = (chunk: Buffer) => {
    const text = chunk.toString();
    output.push(text);
    if (output.length > 50) output.shift();
    options.log?.(text);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const address = `${ip}:${options.port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
  };

  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new DevServerExited(`temporal dev server exited with ${child.exitCode}:\n${output.join('')}`);
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await connection.workflowService.getSystemInfo({});
        // The default namespace is created just after the frontend opens.
        await connection.workflowService.describeNamespace({ namespace: 'default' });
        return { address, process: child, stop };
      } finally {
        await connection.close();
      }
    } catch (error) {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`temporal dev server did not answer on ${address} within 60s: ${String(error)}\n${output.join('')}`);
      }
      await sleep(250);
    }
  }
}
