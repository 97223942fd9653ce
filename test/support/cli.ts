/** Runs the `ledgerflow` CLI from its sources, as a user's shell would: its exit code and output. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

/** The CLI's entry script, from its sources. */
export const cliEntry = join(__dirname, '..', '..', 'bin', 'ledgerflow.ts');

export function runCli(env: NodeJS.ProcessEnv, ...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', cliEntry, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.once('exit', (code) => resolve({ code, out, err }));
  });
}
