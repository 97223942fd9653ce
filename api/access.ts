import { createHash, timingSafeEqual } from 'node:crypto';
import { createRemoteJWKSet, errors as jose, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { ApiRole, ApiToken, Config } from '../core/config';
import type { Caller, CommandAccess, ReadAccess } from '../core/module';

/** What a procedure or endpoint needs: `public` takes no token at all. */
export type Access = 'public' | 'client' | 'admin' | 'metrics';

/** What each role reaches; the compiler refuses a role left out. */
export const grants: Record<ApiRole, readonly Access[]> = {
  client: ['public', 'client'],
  admin: ['public', 'client', 'admin', 'metrics'],
  metrics: ['public', 'metrics'],
};

/** Why a request is refused: tRPC's codes, and the HTTP status each answers outside tRPC. */
export const refusals = {
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  /** The JWKS endpoint did not answer: the token may be fine, try again. */
  SERVICE_UNAVAILABLE: 503,
} as const;

export type Refusal = { code: keyof typeof refusals; message: string };

/** The settings authentication reads. */
export type AuthSettings = Pick<
  Config,
  'API_TOKENS' | 'API_JWT_JWKS_URL' | 'API_JWT_SECRET' | 'API_JWT_ISSUER' | 'API_JWT_AUDIENCE' | 'API_JWT_ROLES_CLAIM' | 'API_JWT_CLOCK_TOLERANCE_S'
>;

const jwtConfigured = (settings: AuthSettings) => settings.API_JWT_JWKS_URL !== undefined || settings.API_JWT_SECRET !== undefined;

/** Neither static tokens nor JWTs configured: local development, every caller is an admin. */
export const authOpen = (settings: AuthSettings) => settings.API_TOKENS.length === 0 && !jwtConfigured(settings);

/**
 * The role a static bearer token carries. With no authentication configured the API is open
 * (local development, bound to loopback): every caller is an admin.
 */
export function roleOf(tokens: readonly ApiToken[], given: string | null): ApiRole | null {
  if (tokens.length === 0) return 'admin';
  if (given === null) return null;
  let role: ApiRole | null = null;
  // Every token is compared, in constant time, so timing tells nothing about which matched or how much.
  for (const entry of tokens) if (sameToken(entry.token, given)) role = entry.role;
  return role;
}

/** Null when the caller's role may reach `access`; otherwise why not. */
export function roleRefusal(caller: Caller, access: Access): Refusal | null {
  if (grants[caller.role].includes(access)) return null;
  return { code: 'FORBIDDEN', message: `a ${caller.role} token cannot do this: it needs ${access} access` };
}

/** Finds who a bearer token belongs to: a static token's role, or a verified JWT's user and role. */
export type Authenticator = (token: string | null) => Promise<Caller | Refusal>;

export const isRefusal = (value: Caller | Refusal): value is Refusal => 'code' in value;

/**
 * Static tokens (API_TOKENS) are matched first; a token that is none of them is verified as a
 * JWT when a JWKS URL or a secret is configured: signature, `iss`, `aud`, `exp` (required) and
 * `nbf`. Its `sub` is the user, its roles claim the role (a client's when it names none). The
 * JWKS is fetched on first use and cached by `jose` (refetched for an unknown key id).
 */
export function createAuthenticator(settings: AuthSettings): Authenticator {
  if (authOpen(settings)) return async () => ({ role: 'admin', userId: null });
  const keys = jwtKeys(settings);
  return async (token) => {
    if (token === null) return { code: 'UNAUTHORIZED', message: 'a bearer token is required' };
    const role = settings.API_TOKENS.length > 0 ? roleOf(settings.API_TOKENS, token) : null;
    if (role !== null) return { role, userId: null };
    if (keys === null || !looksLikeJwt(token)) return { code: 'UNAUTHORIZED', message: 'the bearer token is not valid' };
    return verifyJwt(settings, keys, token);
  };
}

function jwtKeys(settings: AuthSettings): { key: JWTVerifyGetKey | Uint8Array; algorithms?: string[] } | null {
  if (settings.API_JWT_SECRET !== undefined) return { key: new TextEncoder().encode(settings.API_JWT_SECRET), algorithms: ['HS256'] };
  if (settings.API_JWT_JWKS_URL !== undefined) return { key: createRemoteJWKSet(new URL(settings.API_JWT_JWKS_URL)) };
  return null;
}

const looksLikeJwt = (token: string) => /^[\w-]+\.[\w-]+\.[\w-]+$/.test(token);

async function verifyJwt(settings: AuthSettings, keys: NonNullable<ReturnType<typeof jwtKeys>>, token: string): Promise<Caller | Refusal> {
  let payload: JWTPayload;
  try {
    const options = {
      issuer: settings.API_JWT_ISSUER,
      audience: settings.API_JWT_AUDIENCE,
      clockTolerance: settings.API_JWT_CLOCK_TOLERANCE_S,
      requiredClaims: ['exp', 'sub'],
      ...(keys.algorithms ? { algorithms: keys.algorithms } : {}),
    };
    // jose's overloads take a key or a key-getting function, not their union.
    payload = (keys.key instanceof Uint8Array ? await jwtVerify(token, keys.key, options) : await jwtVerify(token, keys.key, options)).payload;
  } catch (error) {
    return jwtRefusal(error);
  }
  const userId = payload.sub;
  // The user id reaches metadata, logs and owner rules: a plain, bounded string.
  if (typeof userId !== 'string' || !/^[!-~]{1,128}$/.test(userId)) return { code: 'UNAUTHORIZED', message: 'the bearer token names no usable user (sub: 1-128 printable characters)' };
  return { role: roleFromClaim(payload[settings.API_JWT_ROLES_CLAIM]), userId };
}

/** A token that fails a check is UNAUTHORIZED (with the check); a JWKS that cannot be read is the server's trouble. */
function jwtRefusal(error: unknown): Refusal {
  if (error instanceof jose.JWTExpired) return { code: 'UNAUTHORIZED', message: 'the bearer token has expired' };
  if (error instanceof jose.JWTClaimValidationFailed) return { code: 'UNAUTHORIZED', message: `the bearer token is not valid: ${error.message}` };
  if (error instanceof jose.JWKSTimeout || !(error instanceof jose.JOSEError) || error instanceof jose.JWKSInvalid) {
    return { code: 'SERVICE_UNAVAILABLE', message: 'the keys to verify the bearer token could not be read; try again' };
  }
  return { code: 'UNAUTHORIZED', message: 'the bearer token is not valid' };
}

/** The strongest known role the claim names (a list, or a space-separated string); none: a client. */
function roleFromClaim(claim: unknown): ApiRole {
  const named = Array.isArray(claim) ? claim : typeof claim === 'string' ? claim.split(' ') : [];
  for (const role of ['admin', 'client', 'metrics'] as const) if (named.includes(role)) return role;
  return 'client';
}

/**
 * Null when the caller may send the command or read the aggregate; otherwise why not. `owner`
 * is the user the aggregate id belongs to (the module's rule, from the id alone), so a refusal
 * is decided before anything is read and says nothing about whether the aggregate exists.
 */
export function ruleRefusal(caller: Caller, rule: CommandAccess | ReadAccess, owner: () => string | null, what: string): Refusal | null {
  if (caller.role === 'admin' || rule === 'any') return null;
  switch (rule) {
    case 'admin':
      return { code: 'FORBIDDEN', message: `${what} needs an admin` };
    case 'internal':
      return { code: 'FORBIDDEN', message: `${what} is sent only by processes` };
    case 'owner':
      if (caller.userId === null) return { code: 'FORBIDDEN', message: `${what} needs a signed-in user's token` };
      return owner() === caller.userId ? null : { code: 'FORBIDDEN', message: `${what}: it belongs to another user` };
  }
}

/** `Authorization: Bearer <token>` → the token. */
export function bearerToken(authorization: string | null | undefined): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  return match ? match[1]! : null;
}

const digest = (value: string) => createHash('sha256').update(value).digest();
const sameToken = (expected: string, given: string) => timingSafeEqual(digest(expected), digest(given));
