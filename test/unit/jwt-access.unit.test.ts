import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyRequest } from 'fastify';
import { generateKeyPair, SignJWT } from 'jose';
import { createAuthenticator, isRefusal, ruleRefusal } from '../../api/access';
import { callerOf } from '../../api/admission';
import { ConfigError, loadConfig } from '../../core/config';
import { isProcessCommandId, processCommandId } from '../../core/ids';
import type { Caller } from '../../core/module';

const secret = 'a-shared-secret-of-at-least-32-characters';
const env = { API_JWT_SECRET: secret, API_JWT_ISSUER: 'https://auth.example.com/', API_JWT_AUDIENCE: 'shop-api', API_TOKENS: 'client:static-client' };
const now = () => Math.floor(Date.now() / 1000);

/** A JWT as an identity provider would issue it, with whatever `change` alters. */
async function jwt(claims: Record<string, unknown> = {}, change: { key?: string; issuer?: string; audience?: string; exp?: number; alg?: string } = {}) {
  return new SignJWT({ roles: [], ...claims })
    .setProtectedHeader({ alg: change.alg ?? 'HS256' })
    .setSubject(String(claims.sub ?? 'ada'))
    .setIssuer(change.issuer ?? env.API_JWT_ISSUER)
    .setAudience(change.audience ?? env.API_JWT_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(change.exp ?? now() + 300)
    .sign(new TextEncoder().encode(change.key ?? secret));
}

describe('JWT settings', () => {
  it('needs issuer and audience with a key source, and one key source only', () => {
    assert.throws(() => loadConfig({ API_JWT_SECRET: secret }), (e: Error) => e instanceof ConfigError && /API_JWT_ISSUER/.test(e.message) && /API_JWT_AUDIENCE/.test(e.message));
    assert.throws(() => loadConfig({ ...env, API_JWT_JWKS_URL: 'https://auth.example.com/jwks' }), /not both/);
    assert.throws(() => loadConfig({ ...env, API_JWT_SECRET: 'short' }), /at least 32/);
    assert.throws(() => loadConfig({ API_JWT_ISSUER: 'x' }), /needs API_JWT_JWKS_URL or API_JWT_SECRET/);
    assert.equal(loadConfig(env).API_JWT_ROLES_CLAIM, 'roles');
  });
});

describe('bearer JWTs beside static tokens', () => {
  const authenticate = createAuthenticator(loadConfig(env));

  it("gives a valid JWT's sub as the user, and its roles claim's role (a client's when it names none)", async () => {
    assert.deepEqual(await authenticate(await jwt()), { role: 'client', userId: 'ada' });
    assert.deepEqual(await authenticate(await jwt({ roles: ['admin'] })), { role: 'admin', userId: 'ada' });
    assert.deepEqual(await authenticate(await jwt({ roles: 'metrics' })), { role: 'metrics', userId: 'ada' });
    assert.deepEqual(await authenticate('static-client'), { role: 'client', userId: null }, 'static tokens still work');
  });

  it('refuses a wrong issuer, audience, signature or algorithm, an expired token and garbage, UNAUTHORIZED', async () => {
    const cases: Record<string, string> = {
      'wrong issuer': await jwt({}, { issuer: 'https://evil.example.com/' }),
      'wrong audience': await jwt({}, { audience: 'other-api' }),
      expired: await jwt({}, { exp: now() - 60 }),
      'bad signature': await jwt({}, { key: 'another-secret-of-at-least-32-characters!' }),
      'HS512 instead of HS256': await jwt({}, { alg: 'HS512' }),
      'a tampered payload': (await jwt()).replace(/\.[^.]+\./, `.${Buffer.from(JSON.stringify({ sub: 'eve', exp: now() + 300 })).toString('base64url')}.`),
      'not a JWT': 'nope',
      'a sub no id can hold': await jwt({ sub: 'x'.repeat(200) }),
    };
    for (const [label, token] of Object.entries(cases)) {
      const found = await authenticate(token);
      assert.ok(isRefusal(found) && found.code === 'UNAUTHORIZED', `${label}: ${JSON.stringify(found)}`);
    }
    assert.match(JSON.stringify(await authenticate(cases.expired!)), /expired/);
    assert.deepEqual(await authenticate(null), { code: 'UNAUTHORIZED', message: 'a bearer token is required' });
  });

  it('answers SERVICE_UNAVAILABLE (retryable), not UNAUTHORIZED, while the JWKS cannot be read', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const { privateKey } = await generateKeyPair('ES256');
    const token = await new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'k' }).setSubject('ada').setIssuer(env.API_JWT_ISSUER).setAudience(env.API_JWT_AUDIENCE).setExpirationTime('5m').sign(privateKey);
    const { API_JWT_SECRET: _, ...rest } = env;
    const found = await createAuthenticator(loadConfig({ ...rest, API_JWT_JWKS_URL: `http://127.0.0.1:${port}/jwks.json` }))(token);
    assert.ok(isRefusal(found) && found.code === 'SERVICE_UNAVAILABLE', JSON.stringify(found));
  });

  it('with JWTs configured and no static tokens, the API is not open', async () => {
    const { API_TOKENS: _, ...jwtOnly } = env;
    const found = await createAuthenticator(loadConfig(jwtOnly))('anything');
    assert.ok(isRefusal(found) && found.code === 'UNAUTHORIZED');
  });
});

describe('access rules', () => {
  const ada: Caller = { role: 'client', userId: 'ada' };
  const service: Caller = { role: 'client', userId: null };
  const admin: Caller = { role: 'admin', userId: null };
  const owner = () => 'ada';
  const code = (caller: Caller, rule: Parameters<typeof ruleRefusal>[1]) => ruleRefusal(caller, rule, owner, 'cart.addItem')?.code ?? 'OK';

  it('lets the owner and admins through owner rules, refuses other users and user-less tokens FORBIDDEN', () => {
    const bob: Caller = { role: 'client', userId: 'bob' };
    assert.deepEqual(
      [ada, bob, service, admin].map((caller) => [code(caller, 'any'), code(caller, 'owner'), code(caller, 'admin'), code(caller, 'internal')]),
      [
        ['OK', 'OK', 'FORBIDDEN', 'FORBIDDEN'],
        ['OK', 'FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN'],
        ['OK', 'FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN'],
        ['OK', 'OK', 'OK', 'OK'],
      ],
    );
    assert.match(ruleRefusal(ada, 'internal', owner, 'inventory.reserve')!.message, /sent only by processes/);
  });

  it('puts every process commandId, long ones included, in the namespace clients may not use', () => {
    assert.equal(processCommandId('checkout:ada.1', 'inventory:book:reserve'), 'checkout:ada.1/inventory:book:reserve');
    for (const processId of ['checkout:ada.1', `checkout:${'x'.repeat(125)}`, `checkout:${'y'.repeat(300)}`]) {
      const id = processCommandId(processId, `inventory:${'p'.repeat(60)}:reserve`);
      assert.ok(isProcessCommandId(id) && id.length <= 128, id);
    }
    assert.equal(isProcessCommandId('0193a3f0-7c1e-7a4b-9e1f-2b3c4d5e6f70'), false, 'what the client generates');
  });
});

describe('the rate limit\'s caller', () => {
  const config = loadConfig(env);
  const authenticate = createAuthenticator(config);
  const request = (authorization?: string) => ({ headers: authorization ? { authorization } : {}, query: {}, ip: '10.0.0.7' }) as unknown as FastifyRequest;

  it('is the user a verified JWT names, whichever of their tokens they send', async () => {
    const first = await callerOf(request(`Bearer ${await jwt({ sub: 'ada' })}`), config, authenticate);
    const second = await callerOf(request(`Bearer ${await jwt({ sub: 'ada', jti: 'another' })}`), config, authenticate);
    assert.match(first, /^user:/);
    assert.equal(second, first);
    assert.notEqual(await callerOf(request(`Bearer ${await jwt({ sub: 'bob' })}`), config, authenticate), first);
  });

  it('is the address for a forged or expired JWT or none at all, and the token for a static one', async () => {
    assert.equal(await callerOf(request(`Bearer ${await jwt({ sub: 'ada' }, { key: 'another-secret-of-at-least-32-characters!' })}`), config, authenticate), 'ip:10.0.0.7');
    assert.equal(await callerOf(request(`Bearer ${await jwt({ sub: 'ada' }, { exp: now() - 3600 })}`), config, authenticate), 'ip:10.0.0.7');
    assert.equal(await callerOf(request(), config, authenticate), 'ip:10.0.0.7');
    assert.match(await callerOf(request('Bearer static-client'), config, authenticate), /^token:/);
  });
});
