// The API server restarted under a running operator: its watches fail, resume, and nothing that
// happened meanwhile is missed. On a cluster of its own (a separate state file): restarting the shared
// cluster's API server would disturb the other suites.
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { down, startComponent, stopComponent, up } from '../../e2e/harness/cluster.ts';
import { apiClients, loadKubeConfig, waitFor } from '../../e2e/harness/kube.ts';
import {
  createNamespace, installOperatorRbac, metricValue, operatorKubeconfig, startOperator, tempDir,
  type OperatorProcess,
} from './support/operator-process.ts';
import { createSlb, deleteSlb, describeSlb, getPod, getSlb, slbManifest } from './support/slbs.ts';

let dir = '';
let stateFile = '';
let kc: KubeConfig;
let core: CoreV1Api;
let custom: CustomObjectsApi;
let namespace = '';
let operator: OperatorProcess | undefined;

beforeAll(async () => {
  dir = await tempDir('spawner-apiserver-restart-');
  stateFile = path.join(dir, 'cluster.json');
  const info = await up({ stateFile, nodes: 1 });
  kc = loadKubeConfig(info.kubeconfig);
  ({ core, custom } = apiClients(kc));
  await installOperatorRbac(info.kubeconfig);
  namespace = await createNamespace(core, 'restart');
  operator = await startOperator({ kubeconfig: await operatorKubeconfig(kc, dir), dir, identity: 'restart', watchNamespace: namespace });
  await operator.ready();
}, 60 * 60_000);

afterAll(async () => {
  await operator?.stop();
  if (stateFile) await down({ stateFile });
  if (dir) await rm(dir, { recursive: true, force: true });
}, 120_000);

const failFast = () => (operator?.exited() ? `the operator ${operator.exited()}:\n${operator.tail()}` : undefined);

const phase = (name: string, want: string) =>
  waitFor(
    async () => {
      const slb = await getSlb(custom, namespace, name);
      if (slb?.status?.phase === want) return slb;
      throw new Error(describeSlb(slb));
    },
    { what: `${name} to be ${want}`, timeoutMs: 180_000, failFast },
  );

const absent = (what: string, read: () => Promise<unknown>) =>
  waitFor(async () => (await read()) === undefined, { what, timeoutMs: 180_000, failFast });

test('watches resume after the API server restarts and every change made around it is acted on', async () => {
  const before = ['before-0', 'before-1', 'before-2'];
  for (const name of before) await createSlb(custom, slbManifest(namespace, name));
  for (const name of before) await phase(name, 'Ready');
  const restartsBefore = metricValue(await operator!.metrics(), 'informer_watch_restarts_total');

  await stopComponent('kube-apiserver', { stateFile, log: () => undefined });
  // The operator notices (its watches end and cannot be re-established) and keeps running.
  await waitFor(async () => metricValue(await operator!.metrics(), 'informer_watch_restarts_total') > restartsBefore, {
    what: 'the operator to notice its watches ended',
    timeoutMs: 120_000,
    failFast,
  });
  await startComponent('kube-apiserver', { stateFile, log: () => undefined });

  // Changes made the moment the API server is back, while the operator may still be backing off.
  const after = ['after-0', 'after-1', 'after-2'];
  for (const name of after) await createSlb(custom, slbManifest(namespace, name));
  await deleteSlb(custom, namespace, 'before-0');
  await core.deleteNamespacedPod({ namespace, name: 'before-1' });

  for (const name of after) await phase(name, 'Ready');
  await absent('before-0 to be gone', () => getSlb(custom, namespace, 'before-0'));
  await absent('the Pod of before-0 to be gone', () => getPod(core, namespace, 'before-0'));
  const lost = await phase('before-1', 'Failed');
  expect(lost.status?.reason).toBe('PodLost');
  expect((await getSlb(custom, namespace, 'before-2'))?.status?.phase).toBe('Ready');
  expect(operator!.exited()).toBeUndefined();
  const metrics = await operator!.metrics();
  // Every informer synced again (one series each, 1 when synced).
  const series = metrics.split('\n').filter((l) => l.startsWith('informer_synced{')).length;
  expect(series).toBeGreaterThanOrEqual(3);
  expect(metricValue(metrics, 'informer_synced')).toBe(series);
}, 15 * 60_000);
