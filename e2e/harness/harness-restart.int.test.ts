// Stopping and restarting components, on a cluster of its own (a separate state file) so that suites
// sharing the main cluster are never disturbed.
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { down, restartComponent, startComponent, stopComponent, up } from './cluster.ts';
import { apiClients, loadKubeConfig, waitFor } from './kube.ts';
import { readRecord, runs } from './state.ts';

let stateDir = '';
let stateFile = '';
let kc: KubeConfig;

beforeAll(async () => {
  stateDir = await mkdtemp(path.join(os.tmpdir(), 'spawner-restart-state-'));
  stateFile = path.join(stateDir, 'current.json');
  const info = await up({ stateFile, nodes: 1, crdPaths: [] });
  kc = loadKubeConfig(info.kubeconfig);
}, 60 * 60_000);

afterAll(async () => {
  if (stateFile) await down({ stateFile });
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
}, 120_000);

test('the API server restarts on the same address with its data, and clients carry on', async () => {
  const { core } = apiClients(kc);
  await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'kept' }, data: { a: '1' } } });
  const before = readRecord(stateFile)!.processes.find((p) => p.name === 'kube-apiserver')!;

  await stopComponent('kube-apiserver', { stateFile });
  expect(await runs(before.pid, before.bin)).toBe(false);
  await expect(core.readNamespacedConfigMap({ name: 'kept', namespace: 'default' })).rejects.toBeDefined();

  await startComponent('kube-apiserver', { stateFile });
  const after = readRecord(stateFile)!.processes.find((p) => p.name === 'kube-apiserver')!;
  expect(after.pid).not.toBe(before.pid);
  const cm = await waitFor(() => core.readNamespacedConfigMap({ name: 'kept', namespace: 'default' }), {
    what: 'the ConfigMap through the restarted API server',
    timeoutMs: 60_000,
  });
  expect(cm.data).toEqual({ a: '1' });
}, 300_000);

test('a restarted etcd keeps its data (tmpfs outlives the process) and the cluster still schedules', async () => {
  const { core } = apiClients(kc);
  await restartComponent('etcd', { stateFile });
  const cm = await waitFor(() => core.readNamespacedConfigMap({ name: 'kept', namespace: 'default' }), {
    what: 'the ConfigMap after etcd restarted',
    timeoutMs: 120_000,
  });
  expect(cm.data).toEqual({ a: '1' });
  await core.createNamespacedPod({
    namespace: 'default',
    body: { metadata: { name: 'after-restart' }, spec: { containers: [{ name: 'main', image: 'example.invalid/never-pulled:1' }] } },
  });
  await waitFor(
    async () => {
      const p = await core.readNamespacedPod({ name: 'after-restart', namespace: 'default' });
      return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    },
    { what: 'a pod to be Ready after the restart', timeoutMs: 120_000 },
  );
}, 300_000);
