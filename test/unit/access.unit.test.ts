import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bearerToken, createAuthenticator, isRefusal, roleOf, roleRefusal, type Access } from '../../api/access';
import { ConfigError, loadConfig } from '../../core/config';

describe('API_TOKENS', () => {
  it('reads role:token pairs; a bare token is an admin token', () => {
    const { API_TOKENS } = loadConfig({ API_TOKENS: ' admin:a1 , client:c1,metrics:m1, bare ,client:c:with:colons' });
    assert.deepEqual(API_TOKENS, [
      { role: 'admin', token: 'a1' },
      { role: 'client', token: 'c1' },
      { role: 'metrics', token: 'm1' },
      { role: 'admin', token: 'bare' },
      { role: 'client', token: 'c:with:colons' },
    ]);
    assert.deepEqual(loadConfig({}).API_TOKENS, []);
  });

  it('refuses an unknown role, an empty token and one token under two roles', () => {
    assert.throws(() => loadConfig({ API_TOKENS: 'admn:x' }), (e: Error) => e instanceof ConfigError && /unknown role 'admn'/.test(e.message));
    assert.throws(() => loadConfig({ API_TOKENS: 'client:' }), /an empty client token/);
    assert.throws(() => loadConfig({ API_TOKENS: 'client:x,admin:x' }), /both client and admin/);
  });
});

describe('API_CORS_ORIGINS', () => {
  it('takes origins or *, and nothing else', () => {
    assert.deepEqual(loadConfig({}).API_CORS_ORIGINS, []);
    assert.deepEqual(loadConfig({ API_CORS_ORIGINS: 'https://app.example.com, http://localhost:5173/' }).API_CORS_ORIGINS, ['https://app.example.com', 'http://localhost:5173']);
    assert.deepEqual(loadConfig({ API_CORS_ORIGINS: '*' }).API_CORS_ORIGINS, ['*']);
    for (const bad of ['app.example.com', 'https://app.example.com/path', '*,https://a.example', 'HTTPS://App.example.com']) {
      assert.throws(() => loadConfig({ API_CORS_ORIGINS: bad }), ConfigError, bad);
    }
  });
});

describe('access', () => {
  const tokens = loadConfig({ API_TOKENS: 'admin:A,client:C,metrics:M' }).API_TOKENS;

  it('gives each token its role; none to a missing or unknown one', () => {
    assert.equal(roleOf(tokens, 'A'), 'admin');
    assert.equal(roleOf(tokens, 'C'), 'client');
    assert.equal(roleOf(tokens, 'M'), 'metrics');
    assert.equal(roleOf(tokens, 'X'), null);
    assert.equal(roleOf(tokens, null), null);
    assert.equal(roleOf([], null), 'admin', 'no tokens configured: local development, open');
  });

  it('refuses missing and wrong tokens as UNAUTHORIZED, a role that falls short as FORBIDDEN', async () => {
    const authenticate = createAuthenticator(loadConfig({ API_TOKENS: 'admin:A,client:C,metrics:M' }));
    const code = async (token: string | null, access: Access) => {
      const found = await authenticate(token);
      return isRefusal(found) ? found.code : (roleRefusal(found, access)?.code ?? 'OK');
    };
    const table = [];
    for (const token of ['A', 'C', 'M', 'X', null]) table.push([await code(token, 'client'), await code(token, 'admin'), await code(token, 'metrics')]);
    assert.deepEqual(table, [
      ['OK', 'OK', 'OK'],
      ['OK', 'FORBIDDEN', 'FORBIDDEN'],
      ['FORBIDDEN', 'FORBIDDEN', 'OK'],
      ['UNAUTHORIZED', 'UNAUTHORIZED', 'UNAUTHORIZED'],
      ['UNAUTHORIZED', 'UNAUTHORIZED', 'UNAUTHORIZED'],
    ]);
    assert.deepEqual(await createAuthenticator(loadConfig({}))(null), { role: 'admin', userId: null }, 'nothing configured: local development, open');
  });

  it('reads a bearer token from the Authorization header', () => {
    assert.equal(bearerToken('Bearer abc'), 'abc');
    assert.equal(bearerToken('bearer  abc '), 'abc');
    assert.equal(bearerToken('Basic abc'), null);
    assert.equal(bearerToken('Bearer'), null);
    assert.equal(bearerToken(undefined), null);
  });
});
