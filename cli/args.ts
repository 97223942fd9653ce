/**
 * The `ledgerflow` CLI's commands, their help, and argument parsing. Pure: a usage error is a
 * UsageError (exit 2) naming what was wrong, before anything is connected.
 */
import { parseArgs } from 'node:util';

export type CommandName = 'init' | 'dev' | 'worker' | 'projector' | 'api' | 'build' | 'status' | 'parked' | 'redrive' | 'rebuild' | 'send' | 'setup';

interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  help: string;
}

interface CommandSpec {
  usage: string;
  summary: string;
  details?: string;
  /** Positional arguments: required ones first, then optional ones with a trailing `?`. */
  args: readonly string[];
  options: Readonly<Record<string, OptionSpec>>;
}

const common: Readonly<Record<string, OptionSpec>> = {
  config: { type: 'string', help: `the app's config file (default ./ledgerflow.config.ts)` },
  json: { type: 'boolean', help: 'print the result as JSON on stdout (errors as JSON on stderr)' },
  timeout: { type: 'string', help: 'seconds to wait for Redis or Temporal to answer before failing (default 5)' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
};

export const commands: Readonly<Record<CommandName, CommandSpec>> = {
  init: {
    usage: 'init <dir> [--ledgerflow <spec>] [--client <spec>]',
    summary: 'write a new app into <dir> (new or empty): an aggregate, its read model and query, a test, a README',
    details:
      "Reads no config. Until the packages are published, point the app's dependencies at tarballs, folders or git:\n--ledgerflow ./ledgerflow-0.1.0.tgz --client ./ledgerflow-client-0.1.0.tgz (paths are made absolute).",
    args: ['dir'],
    options: {
      ledgerflow: { type: 'string', help: "the app's ledgerflow dependency (default: this version)" },
      client: { type: 'string', help: "the app's @ledgerflow/client dependency (default: this version)" },
    },
  },
  dev: {
    usage: 'dev [--config <file>]',
    summary: "run the app's whole local stack: Temporal dev server, worker, projector, API; prints where to look",
    details:
      'Uses the Temporal server at TEMPORAL_ADDRESS if one answers; otherwise starts a dev server with the\nTemporal CLI from LEDGERFLOW_TEMPORAL_CLI, PATH or the cache (its data in .ledgerflow/). Ctrl-C stops it all.',
    args: [],
    options: {},
  },
  worker: {
    usage: 'worker [--config <file>]',
    summary: "run the app's aggregates, processes and activities (a Temporal worker)",
    details: 'Bundles the workflows from the config as it starts, or runs LEDGERFLOW_WORKFLOW_BUNDLE (made by ledgerflow build).',
    args: [],
    options: {},
  },
  projector: {
    usage: 'projector [--config <file>]',
    summary: "keep the app's read models in Redis up to date from the event log",
    args: [],
    options: {},
  },
  api: {
    usage: 'api [--config <file>]',
    summary: "serve the app's tRPC API, /health, /metrics and /console over HTTP",
    args: [],
    options: {},
  },
  build: {
    usage: 'build [--out <file>] [--config <file>]',
    summary: "bundle the app's workflows ahead of time, for production images",
    details: 'Writes <file> (default dist/workflow-bundle.js) and <file minus .js>.traced.js (with tracing\'s\ninterceptors); run the worker with LEDGERFLOW_WORKFLOW_BUNDLE=<file>.',
    args: [],
    options: { out: { type: 'string', help: 'where to write the bundle (default dist/workflow-bundle.js)' } },
  },
  status: {
    usage: 'status [--json]',
    summary: 'every projection: state, checkpoint, stream tail, lag, rate, parked',
    args: [],
    options: {},
  },
  parked: {
    usage: 'parked <projection> [--limit <n>] [--json]',
    summary: 'list parked events with their errors',
    args: ['projection'],
    options: { limit: { type: 'string', help: 'list at most this many (1-1000, default 100)' } },
  },
  redrive: {
    usage: 'redrive <projection> [--json]',
    summary: 're-apply parked events (after fixing the handler)',
    args: ['projection'],
    options: {},
  },
  rebuild: {
    usage: 'rebuild <projection> [--accept-gaps] [--json]',
    summary: 'rebuild into a new generation from the start of the log, showing progress',
    details:
      "Waits until the new generation serves. A progress bar is drawn only on a terminal.\nIf the log lacks some aggregates' history (trimmed by retention), the rebuild does not switch:\nthis exits 1 naming the aggregates and missing versions. --accept-gaps switches anyway (this\nrebuild, or one already held), leaving those aggregates parked behind their gaps.",
    args: ['projection'],
    options: { 'accept-gaps': { type: 'boolean', help: "switch even if the log lacks some aggregates' history (they stay parked)" } },
  },
  send: {
    usage: 'send <aggregate> <id> <command> [payload-json] [--command-id <id>] [--json]',
    summary: 'send a command to an aggregate (Temporal only) and print its outcome',
    details: 'Exits 1 when the aggregate refuses the command. The same --command-id answers the same outcome.',
    args: ['aggregate', 'id', 'command', 'payload-json?'],
    options: { 'command-id': { type: 'string', help: 'the idempotency key (default: a new one)' } },
  },
  setup: {
    usage: 'setup [--dry-run] [--json]',
    summary: 'check and register what Ledgerflow needs on Temporal, RabbitMQ and Redis',
    details: 'Prints what it checked and what it changed; exits 1 if the cluster is not ready afterwards\n(with --dry-run: if anything would change).',
    args: [],
    options: { 'dry-run': { type: 'boolean', help: 'change nothing; say what would change' } },
  },
};

const isCommand = (name: string): name is CommandName => Object.hasOwn(commands, name);

export const exitCodes = 'exit codes: 0 done, 1 failed (a service unreachable, no projector, a command refused, setup not ok, a rebuild held for gaps), 2 usage';

export function usage(): string {
  const width = Math.max(...Object.values(commands).map((c) => c.usage.split(' ')[0]!.length)) + 2;
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}${c.summary}`);
  return [
    'usage: ledgerflow <command> [options]',
    '',
    ...lines,
    '',
    'options on every command: --config <file>, --json, --timeout <seconds>, --help',
    'ledgerflow <command> --help shows a command\'s arguments.',
    exitCodes,
  ].join('\n');
}

export function commandHelp(name: CommandName): string {
  const spec = commands[name];
  const options = { ...spec.options, ...common };
  const optionLines = Object.entries(options).map(([option, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : ''}--${option}${o.type === 'string' ? ' <value>' : ''}`;
    return `  ${flag.padEnd(26)}${o.help}`;
  });
  return [`usage: ledgerflow ${spec.usage}`, '', spec.summary, ...(spec.details ? ['', spec.details] : []), '', 'options:', ...optionLines, '', exitCodes].join('\n');
}

export class UsageError extends Error {
  override readonly name = 'UsageError';
  constructor(
    message: string,
    /** The command whose help to show with the message, if known. */
    readonly command?: CommandName,
  ) {
    super(message);
  }
}

export type Invocation =
  | { kind: 'help'; text: string }
  | {
      kind: 'run';
      command: CommandName;
      args: string[];
      json: boolean;
      timeoutMs: number;
      options: Readonly<Record<string, string | boolean | undefined>>;
    };

/** Parses `argv` (without node and the script): help, or a command to run; throws UsageError. */
export function parseInvocation(argv: readonly string[]): Invocation {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h') return { kind: 'help', text: usage() };
  if (first === 'help') {
    const topic = rest[0];
    if (topic === undefined) return { kind: 'help', text: usage() };
    if (!isCommand(topic)) throw new UsageError(`unknown command '${topic}'`);
    return { kind: 'help', text: commandHelp(topic) };
  }
  if (!isCommand(first)) throw new UsageError(first.startsWith('-') ? `an option before the command: '${first}'` : `unknown command '${first}'`);
  const spec = commands[first];
  const options = { ...spec.options, ...common };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...rest],
      allowPositionals: true,
      strict: true,
      options: Object.fromEntries(Object.entries(options).map(([name, o]) => [name, o.short ? { type: o.type, short: o.short } : { type: o.type }])),
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error), first);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help) return { kind: 'help', text: commandHelp(first) };

  const required = spec.args.filter((a) => !a.endsWith('?'));
  if (parsed.positionals.length < required.length) {
    throw new UsageError(`${first} needs ${required.slice(parsed.positionals.length).map((a) => `<${a}>`).join(' ')}`, first);
  }
  if (parsed.positionals.length > spec.args.length) {
    throw new UsageError(`${first} takes ${spec.args.length} argument(s), got ${parsed.positionals.length}: ${parsed.positionals.join(' ')}`, first);
  }
  return {
    kind: 'run',
    command: first,
    args: parsed.positionals,
    json: values.json === true,
    timeoutMs: secondsOption(values.timeout, 5, first) * 1000,
    options: { ...values },
  };
}

function secondsOption(value: string | boolean | undefined, fallback: number, command: CommandName): number {
  if (value === undefined) return fallback;
  const seconds = Number(value);
  if (typeof value !== 'string' || !Number.isFinite(seconds) || seconds <= 0 || seconds > 600) {
    throw new UsageError(`--timeout takes seconds between 0 and 600, got '${String(value)}'`, command);
  }
  return seconds;
}

/** A whole number option within bounds, or a UsageError. */
export function integerOption(value: string | boolean | undefined, name: string, min: number, max: number, command: CommandName): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (typeof value !== 'string' || !Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} takes a whole number from ${min} to ${max}, got '${String(value)}'`, command);
  return n;
}
