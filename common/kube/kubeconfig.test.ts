import { describe, expect, test } from '@jest/globals';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type * as https from 'node:https';
import { inClusterAccess, loadKubeAccess, parseSimpleKubeconfig, StaticKubeAccess } from './kubeconfig.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');

function kubeconfig(cluster: Record<string, unknown>, user: Record<string, unknown>): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:6443', ...cluster } }],
    users: [{ name: 'u', user }],
    contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
    'current-context': 'ctx',
  });
}

async function applied(access: StaticKubeAccess | { applyToHTTPSOptions(o: https.RequestOptions): Promise<void> }): Promise<https.RequestOptions> {
  const opts: https.RequestOptions = {};
  await access.applyToHTTPSOptions(opts);
  return opts;
}

describe('parseSimpleKubeconfig', () => {
  test('client certificates, the CA and impersonation', async () => {
    const access = parseSimpleKubeconfig(
      kubeconfig({ 'certificate-authority-data': b64('CA') }, { 'client-certificate-data': b64('CERT'), 'client-key-data': b64('KEY'), as: 'system:serviceaccount:ns:sa' }),
      'f',
    )!;
    expect(access.getCurrentCluster()).toEqual({ name: 'c', server: 'https://127.0.0.1:6443', skipTLSVerify: false });
    const opts = await applied(access);
    expect(opts.headers).toEqual({ 'Impersonate-User': 'system:serviceaccount:ns:sa' });
    const agent = opts.agent as https.Agent & { options: Record<string, unknown>; keepAlive: boolean };
    expect(agent.keepAlive).toBe(true);
    expect(String(agent.options.ca)).toBe('CA');
    expect(String(agent.options.cert)).toBe('CERT');
    expect(String(agent.options.key)).toBe('KEY');
    // One agent for every request, so connections are reused.
    expect((await applied(access)).agent).toBe(agent);
  });

  test('a bearer token, and a token file read again when it may have rotated', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'kubeconfig-test-'));
    expect((await applied(parseSimpleKubeconfig(kubeconfig({}, { token: 'abc' }), 'f')!)).headers).toEqual({ Authorization: 'Bearer abc' });
    const tokenFile = path.join(dir, 'token');
    await writeFile(tokenFile, 'first\n');
    const access = parseSimpleKubeconfig(kubeconfig({}, { tokenFile }), 'f')!;
    expect((await applied(access)).headers).toEqual({ Authorization: 'Bearer first' });
  });

  test.each([
    ['YAML', 'apiVersion: v1\nkind: Config\n'],
    ['an exec plugin', kubeconfig({}, { exec: { command: 'x' } })],
    ['a proxy', kubeconfig({ 'proxy-url': 'http://proxy:3128' }, {})],
    ['impersonated groups', kubeconfig({}, { as: 'x', 'as-groups': ['g'] })],
    ['plain http', JSON.stringify({ clusters: [{ name: 'c', cluster: { server: 'http://h' } }], contexts: [{ name: 'x', context: { cluster: 'c' } }], 'current-context': 'x' })],
  ])('%s is left to the full client', (_what, text) => {
    expect(parseSimpleKubeconfig(text, 'f')).toBeUndefined();
  });

  test('a kubeconfig without a usable current context is an error naming the file', () => {
    expect(() => parseSimpleKubeconfig(JSON.stringify({ 'current-context': 'nope' }), '/x/kc')).toThrow(/\/x\/kc: no current context/);
  });
});

test('in cluster: the service host and port, the CA and the token file', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sa-test-'));
  await writeFile(path.join(dir, 'ca.crt'), 'CA');
  await writeFile(path.join(dir, 'token'), 'sa-token');
  const access = inClusterAccess({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }, dir);
  expect(access.getCurrentCluster().server).toBe('https://[fd00::1]:443');
  expect((await applied(access)).headers).toEqual({ Authorization: 'Bearer sa-token' });
  expect(() => inClusterAccess({}, dir)).toThrow(/KUBERNETES_SERVICE_HOST/);
});

test('loadKubeAccess falls back to client-node for what it does not handle', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kubeconfig-test-'));
  const file = path.join(dir, 'config.yaml');
  await writeFile(file, 'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://h:1"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n');
  const access = await loadKubeAccess(file);
  expect(access).not.toBeInstanceOf(StaticKubeAccess);
  expect(access.getCurrentCluster()?.server).toBe('https://h:1');
  expect((await applied(access)).headers).toMatchObject({ Authorization: 'Bearer t' });
});
