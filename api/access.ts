import { createHash, timingSafeEqual } from 'node:crypto';
import type { ApiRole, ApiToken } from '../core/config';

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
} as const;

export type Refusal = { code: keyof typeof refusals; message: string };

/**
 * The role a bearer token carries. With no tokens configured the API is open (local
 * development, bound to loopback): every caller is an admin.
 */
export function roleOf(tokens: readonly ApiToken[], given: string | null): ApiRole | null {
  if (tokens.length === 0) return 'admin';
  if (given === null) return null;
  let role: ApiRole | null = null;
  // Every token is compared, in constant time, so timing tells nothing about which matched or how much.
  for (const entry of tokens) if (sameToken(entry.token, given)) role = entry.role;
  return role;
}

/** Null when the token may reach `access`; otherwise why not. */
export function refusal(tokens: readonly ApiToken[], given: string | null, access: Access): Refusal | null {
  if (access === 'public') return null;
  const role = roleOf(tokens, given);
  if (role === null) {
    return { code: 'UNAUTHORIZED', message: given === null ? 'a bearer token is required' : 'the bearer token is not valid' };
  }
  if (!grants[role].includes(access)) return { code: 'FORBIDDEN', message: `a ${role} token cannot do this: it needs ${access} access` };
  return null;
}

/** `Authorization: Bearer <token>` → the token. */
export function bearerToken(authorization: string | null | undefined): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  return match ? match[1]! : null;
}

const digest = (value: string) => createHash('sha256').update(value).digest();
const sameToken = (expected: string, given: string) => timingSafeEqual(digest(expected), digest(given));
