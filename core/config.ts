import { z } from 'zod';

// 0 asks the OS for a free port (tests).
const port = z.coerce.number().int().min(0).max(65535);
const url = (protocols: string[]) =>
  z.string().refine((value) => {
    try {
      return protocols.includes(new URL(value).protocol);
    } catch {
      return false;
    }
  }, `must be a ${protocols.join(' or ')}// URL`);

/** What a token may do: `client` commands and queries, `admin` also operations, `metrics` only /metrics. */
export const apiRoles = ['client', 'admin', 'metrics'] as const;
export type ApiRole = (typeof apiRoles)[number];
export interface ApiToken {
  role: ApiRole;
  token: string;
}

const isRole = (value: string): value is ApiRole => (apiRoles as readonly string[]).includes(value);
const list = (value: string | undefined) => (value ?? '').split(',').map((item) => item.trim()).filter(Boolean);

function parseTokens(value: string | undefined, ctx: z.RefinementCtx): ApiToken[] {
  const tokens = new Map<string, ApiRole>();
  for (const entry of list(value)) {
    const colon = entry.indexOf(':');
    // A bare token is an admin's: what every token was before roles.
    const [role, token] = colon < 0 ? ['admin', entry] : [entry.slice(0, colon), entry.slice(colon + 1)];
    if (!isRole(role)) {
      ctx.addIssue({ code: 'custom', message: `unknown role '${role}' (${apiRoles.join(', ')}); a token containing ':' needs its role in front` });
    } else if (token === '') {
      ctx.addIssue({ code: 'custom', message: `an empty ${role} token` });
    } else if (tokens.has(token) && tokens.get(token) !== role) {
      ctx.addIssue({ code: 'custom', message: `one token listed as both ${tokens.get(token)} and ${role}` });
    } else {
      tokens.set(token, role);
    }
  }
  return [...tokens].map(([token, role]) => ({ role, token }));
}

function parseOrigins(value: string | undefined, ctx: z.RefinementCtx): string[] {
  const origins = list(value).map((origin) => origin.replace(/\/$/, ''));
  if (origins.includes('*')) {
    if (origins.length > 1) ctx.addIssue({ code: 'custom', message: "'*' stands alone" });
    return ['*'];
  }
  for (const origin of origins) {
    let parsed: string | null = null;
    try {
      parsed = new URL(origin).origin;
    } catch {
      // reported below
    }
    if (parsed !== origin) ctx.addIssue({ code: 'custom', message: `'${origin}' is not an origin (scheme://host[:port], no path)` });
  }
  return origins;
}

/** JWTs are checked against one key source, and always for their issuer and audience. */
function checkJwtSettings(config: { API_JWT_JWKS_URL?: string; API_JWT_SECRET?: string; API_JWT_ISSUER?: string; API_JWT_AUDIENCE?: string }, ctx: z.RefinementCtx) {
  const keyed = config.API_JWT_JWKS_URL !== undefined || config.API_JWT_SECRET !== undefined;
  if (config.API_JWT_JWKS_URL !== undefined && config.API_JWT_SECRET !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['API_JWT_SECRET'], message: 'set API_JWT_JWKS_URL or API_JWT_SECRET, not both' });
  }
  for (const key of ['API_JWT_ISSUER', 'API_JWT_AUDIENCE'] as const) {
    if (keyed && config[key] === undefined) ctx.addIssue({ code: 'custom', path: [key], message: 'required with API_JWT_JWKS_URL or API_JWT_SECRET' });
    if (!keyed && config[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: 'needs API_JWT_JWKS_URL or API_JWT_SECRET' });
  }
}

export const configSchema = z.object({
  TEMPORAL_ADDRESS: z.string().regex(/^[^\s:]+:\d+$/, 'must be host:port').default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('ledgerflow'),
  RABBITMQ_URL: url(['amqp:', 'amqps:']).default('amqp://guest:guest@127.0.0.1:5672'),
  /** The management API `ledgerflow setup` reads retention and bindings from; http://<RabbitMQ host>:15672 by default. */
  RABBITMQ_MANAGEMENT_URL: url(['http:', 'https:']).optional(),
  EVENTS_EXCHANGE: z.string().min(1).default('ledgerflow.events'),
  EVENTS_STREAM: z.string().min(1).default('ledgerflow.events.log'),
  /** Stream retention as RabbitMQ's x-max-age (e.g. 7D, 12h); unset keeps every event. */
  EVENTS_RETENTION: z
    .string()
    .regex(/^\d+(Y|M|D|h|m|s)$/, 'must be a number followed by Y, M, D, h, m or s, e.g. 7D')
    .optional(),
  REDIS_URL: url(['redis:', 'rediss:']).default('redis://127.0.0.1:6379'),
  /** Every Redis key starts with this, so several stacks (or test runs) share one Redis. */
  REDIS_PREFIX: z.string().regex(/^[A-Za-z0-9_.:-]+$/, 'letters, digits, _ . : - only').default('lf'),
  API_HOST: z.string().min(1).optional(),
  API_PORT: port.default(3000),
  /** Comma-separated bearer tokens, each `role:token` (a bare token is an admin's); unset means local development on 127.0.0.1 only. */
  API_TOKENS: z.string().optional().transform(parseTokens),
  /** Bearer JWTs beside API_TOKENS: keys from this JWKS URL (RS256, ES256, EdDSA, ...), or */
  API_JWT_JWKS_URL: url(['http:', 'https:']).optional(),
  /** ... a shared secret (HS256), at least 32 characters. */
  API_JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  /** The `iss` and `aud` every JWT must carry (required once a JWKS URL or secret is set). */
  API_JWT_ISSUER: z.string().min(1).optional(),
  API_JWT_AUDIENCE: z.string().min(1).optional(),
  /** The claim listing the caller's roles (`admin`, `client`, `metrics`); a JWT naming none is a client's. */
  API_JWT_ROLES_CLAIM: z.string().min(1).default('roles'),
  /** Seconds of clock skew allowed on `exp` and `nbf`. */
  API_JWT_CLOCK_TOLERANCE_S: z.coerce.number().int().min(0).max(300).default(5),
  /** Origins browsers may call the API from (`https://app.example.com,http://localhost:5173`, or `*`); unset allows none. */
  API_CORS_ORIGINS: z.string().optional().transform(parseOrigins),
  /** Largest request body the API reads; a larger one is refused with 413 without reading the rest. */
  API_MAX_BODY_BYTES: z.coerce.number().int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
  /** How long a command submission may take before the caller hears COMMAND_TIMEOUT (503, retryable). */
  COMMAND_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
  /**
   * How long an aggregate answers a decided commandId with its original outcome (set on the
   * aggregates a process starts; set it alike on the API and the worker).
   */
  COMMAND_ID_RETENTION_HOURS: z.coerce.number().int().min(1).max(24 * 366).default(24),
  /** Commands one API process holds for one aggregate, and for all together, before refusing (503, retryable). */
  COMMAND_QUEUE_PER_AGGREGATE: z.coerce.number().int().min(1).max(100_000).default(1_000),
  COMMAND_QUEUE_TOTAL: z.coerce.number().int().min(1).max(1_000_000).default(20_000),
  /** Calls one caller (a valid token, else an IP) may make per API_RATE_LIMIT_WINDOW_S, shared by every API process through Redis; 0 turns the limit off. */
  API_RATE_LIMIT: z.coerce.number().int().min(0).max(10_000_000).default(10_000),
  API_RATE_LIMIT_WINDOW_S: z.coerce.number().int().min(1).max(3_600).default(10),
  /** Calls in one tRPC batch; a larger batch is refused (400 BATCH_TOO_LARGE) before any of it runs. */
  API_MAX_BATCH: z.coerce.number().int().min(1).max(1_000).default(50),
  /** Live subscriptions one API process holds for one caller, and in all, before refusing new ones (429 SUBSCRIPTION_LIMIT). */
  API_SUBSCRIPTIONS_PER_CALLER: z.coerce.number().int().min(1).max(1_000_000).default(100),
  API_SUBSCRIPTIONS_TOTAL: z.coerce.number().int().min(1).max(1_000_000).default(2_000),
  /** A subscription that delivered no event for this long is ended (its client reconnects from its lastEventId). */
  API_SUBSCRIPTION_IDLE_MS: z.coerce.number().int().min(1_000).max(86_400_000).default(600_000),
  /** How long the API waits for any one Redis call before answering 503 REDIS_TIMEOUT. */
  API_REDIS_TIMEOUT_MS: z.coerce.number().int().min(10).max(60_000).default(1_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Where the worker and the projector serve /metrics and /health (0.0.0.0 in containers). */
  METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  WORKER_METRICS_PORT: port.default(9464),
  PROJECTOR_METRICS_PORT: port.default(9465),
  /** Temporal Core's own Prometheus exporter, on loopback, read into the worker's /metrics; 0 picks a free port. */
  WORKER_SDK_METRICS_PORT: port.default(0),
}).superRefine(checkJwtSettings);

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Parses the environment once at start-up; every bad value is named in one message. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const relevant = Object.fromEntries(Object.keys(configSchema.shape).map((key) => [key, env[key] === '' ? undefined : env[key]]));
  const result = configSchema.safeParse(relevant);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => `  ${issue.path.join('.')}=${JSON.stringify(env[String(issue.path[0])])}: ${issue.message}`);
  throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
}
