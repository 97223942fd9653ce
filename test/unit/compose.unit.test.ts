/**
 * docker-compose.yml: Debian's docker-compose validates it, and the topology a user relies on is
 * there (Temporal on PostgreSQL with its schema job, `ledgerflow setup` before the workers,
 * pinned images, healthchecks). No Docker engine needed: `config` only reads the file.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';

const root = join(__dirname, '..', '..');
const composeFile = join(root, 'docker-compose.yml');

interface Service {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] | string };
  environment?: Record<string, string | null>;
  volumes?: (string | { source?: string; target: string })[];
  restart?: string;
}

const compose = (args: string[]) =>
  execFileSync('docker-compose', ['-f', composeFile, ...args], {
    cwd: root,
    // The API refuses to start without tokens, and the file says so: give it some.
    env: { ...process.env, API_TOKENS: 'admin:compose-test' },
    encoding: 'utf8',
    timeout: 60_000,
  });

describe('docker-compose.yml', () => {
  let services: Record<string, Service>;

  before(() => {
    // docker-compose is a Python program: its YAML library reads the resolved file back for us.
    const resolved = compose(['config']);
    const json = execFileSync('python3', ['-c', 'import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))'], { input: resolved, encoding: 'utf8' });
    services = (JSON.parse(json) as { services: Record<string, Service> }).services;
  });

  it('is valid for docker-compose config -q', () => {
    compose(['config', '-q']);
  });

  it('refuses to run the API without tokens', () => {
    assert.throws(
      () => execFileSync('docker-compose', ['-f', composeFile, 'config', '-q'], { cwd: root, env: { ...process.env, API_TOKENS: '' }, stdio: 'pipe', timeout: 60_000 }),
      /API_TOKENS/,
    );
  });

  it('has every part of the production topology', () => {
    const expected = ['temporal-db', 'temporal-schema', 'temporal', 'temporal-namespace', 'temporal-ui', 'rabbitmq', 'redis', 'prometheus', 'grafana', 'payments', 'setup', 'worker', 'projector', 'api'];
    assert.deepEqual(expected.filter((name) => !services[name]), []);
  });

  it('pins every image to a version (no latest, no auto-setup)', () => {
    for (const [name, service] of Object.entries(services)) {
      if (service.build) continue;
      assert.match(service.image ?? '', /^[\w./-]+:v?\d[\w.-]*$/, `${name}: ${service.image}`);
      assert.doesNotMatch(service.image!, /auto-setup/, `${name}: temporalio/auto-setup is no longer built`);
    }
    assert.match(services.temporal!.image!, /^temporalio\/server:/);
    assert.match(services['temporal-schema']!.image!, /^temporalio\/admin-tools:/);
    assert.equal(services['temporal-schema']!.image!.split(':')[1], services.temporal!.image!.split(':')[1], 'schema job and server of the same version');
    assert.match(services.rabbitmq!.image!, /-management$/);
    assert.match(services.temporal!.environment!.DB ?? '', /^postgres12$/);
  });

  it('sets up the schema before the server, and Ledgerflow before its workers', () => {
    const needs = (service: string, dependency: string, condition: string) =>
      assert.equal(services[service]!.depends_on?.[dependency]?.condition, condition, `${service} waits for ${dependency} (${condition})`);
    needs('temporal-schema', 'temporal-db', 'service_healthy');
    needs('temporal', 'temporal-schema', 'service_completed_successfully');
    needs('temporal-namespace', 'temporal', 'service_healthy');
    needs('setup', 'temporal-namespace', 'service_completed_successfully');
    needs('setup', 'rabbitmq', 'service_healthy');
    needs('setup', 'redis', 'service_healthy');
    for (const process of ['worker', 'projector', 'api']) needs(process, 'setup', 'service_completed_successfully');
    needs('worker', 'payments', 'service_healthy');
    needs('grafana', 'prometheus', 'service_healthy');
    assert.deepEqual(services.setup!.command, ['node', 'dist/bin/ledgerflow.js', 'setup']);
  });

  it('builds worker, projector, API and setup from the Dockerfile on a supported Node LTS', () => {
    for (const name of ['setup', 'worker', 'projector', 'api', 'payments']) assert.ok(services[name]!.build, `${name} is built from ./Dockerfile`);
    const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
    const node = /ARG NODE_IMAGE=node:(\d+)/.exec(dockerfile);
    assert.ok(node && [22, 24].includes(Number(node[1])), `Node ${node?.[1]} is not a supported LTS line`);
  });

  it('health-checks every long-running service', () => {
    const oneShot = new Set(['temporal-schema', 'temporal-namespace', 'setup', 'temporal-ui']);
    for (const [name, service] of Object.entries(services)) {
      if (oneShot.has(name)) continue;
      assert.ok(service.healthcheck?.test, `${name} has a healthcheck`);
    }
  });

  it('persists Redis (append-only file) and mounts the config files that exist in the repo', () => {
    assert.ok((services.redis!.command as string[]).join(' ').includes('--appendonly yes'));
    for (const [name, service] of Object.entries(services)) {
      for (const volume of service.volumes ?? []) {
        const source = typeof volume === 'string' ? volume.split(':')[0]! : volume.source ?? '';
        if (source.startsWith('/') || source.startsWith('.')) assert.ok(existsSync(source.startsWith('/') ? source : join(root, source)), `${name} mounts ${source}, which exists`);
      }
    }
  });
});
