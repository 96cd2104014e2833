// Two operator replicas on one Lease: only the leader reconciles and writes; when the leader is killed
// (no chance to release the Lease), the other takes over once the Lease has expired, and carries on.
// Stopped gracefully (SIGTERM, as in a rolling update), the leader releases the Lease and a standby,
// which watches it, takes it at once.
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import type { CoordinationV1Api, CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { KIND } from '../../common/contract.ts';
import { apiClients, loadKubeConfig, waitFor } from '../../e2e/harness/kube.ts';
import {
  createNamespace, deleteNamespace, installOperatorRbac, metricValue, operatorKubeconfig, operatorNamespace, startOperator, tempDir,
  type OperatorProcess,
} from './support/operator-process.ts';
import { createSlb, listSlbs, slbManifest } from './support/slbs.ts';

let kc: KubeConfig;
let core: CoreV1Api;
let custom: CustomObjectsApi;
let coordination: CoordinationV1Api;
let namespace = '';
let leaseName = '';
let kubeconfig = '';
let dir = '';
const replicas: OperatorProcess[] = [];

beforeAll(async () => {
  kc = loadKubeConfig();
  ({ core, custom, coordination } = apiClients(kc));
  dir = await tempDir('spawner-leader-');
  await installOperatorRbac();
  namespace = await createNamespace(core, 'leader');
  leaseName = `leader-${namespace}`;
  kubeconfig = await operatorKubeconfig(kc, dir);
  for (const identity of ['replica-a', 'replica-b']) {
    replicas.push(await startOperator({ kubeconfig, dir, identity, watchNamespace: namespace, leaseName }));
  }
  await Promise.all(replicas.map((r) => r.ready()));
}, 10 * 60_000);

afterAll(async () => {
  await Promise.all(replicas.map((r) => r.stop()));
  if (core && namespace) await deleteNamespace(core, namespace);
}, 120_000);

const lease = () => coordination.readNamespacedLease({ namespace: operatorNamespace, name: leaseName });

async function allReady(count: number): Promise<void> {
  await waitFor(
    async () => {
      const items = await listSlbs(custom, namespace);
      const ready = items.filter((s) => s.status?.phase === 'Ready').length;
      if (ready < count) throw new Error(`${ready} of ${count} Ready`);
      return true;
    },
    { what: `${count} backends to be Ready`, timeoutMs: 180_000 },
  );
}

// Who wrote: the Events the operator records name the replica (reportingInstance). Each backend's Ready
// Event follows its status write a moment later: wait until every backend has one.
async function eventReporters(names: string[]): Promise<Set<string>> {
  const events = await waitFor(
    async () => {
      const list = (await core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.kind=${KIND}` })).items;
      const missing = names.filter((n) => !list.some((e) => e.involvedObject.name === n && e.reason === 'Ready'));
      if (missing.length) throw new Error(`no Ready Event yet for ${missing.join(', ')}`);
      return list;
    },
    { what: 'a Ready Event for every backend', timeoutMs: 60_000 },
  );
  return new Set(events.filter((e) => names.includes(e.involvedObject.name!)).map((e) => e.reportingInstance!));
}

test('only the leader reconciles; killed, it is replaced once its Lease has expired', async () => {
  const holder = await waitFor(async () => (await lease()).spec?.holderIdentity, { what: 'a leader', timeoutMs: 60_000 });
  const leader = replicas.find((r) => r.identity === holder)!;
  const follower = replicas.find((r) => r.identity !== holder)!;

  const first = Array.from({ length: 10 }, (_, i) => `first-${i}`);
  for (const name of first) await createSlb(custom, slbManifest(namespace, name));
  await allReady(first.length);
  expect(await eventReporters(first)).toEqual(new Set([leader.identity]));
  expect(metricValue(await leader.metrics(), 'controller_runtime_reconcile_total')).toBeGreaterThanOrEqual(first.length);
  expect(metricValue(await follower.metrics(), 'controller_runtime_reconcile_total')).toBe(0);
  expect(metricValue(await leader.metrics(), 'leader_election_master_status')).toBe(1);
  expect(metricValue(await follower.metrics(), 'leader_election_master_status')).toBe(0);

  // SIGKILL: no release, so the standby must wait the Lease out.
  const killedAt = Date.now();
  await leader.kill('SIGKILL');
  const last = (await lease()).spec!;
  const taken = await waitFor(
    async () => {
      const spec = (await lease()).spec;
      return spec?.holderIdentity === follower.identity ? spec : undefined;
    },
    { what: `${follower.identity} to take the Lease`, timeoutMs: 120_000, intervalMs: 100 },
  );
  const takeoverMs = Date.now() - killedAt;
  const durationMs = last.leaseDurationSeconds! * 1000;
  process.stderr.write(`[leader] ${follower.identity} took over ${takeoverMs} ms after the kill (lease duration ${durationMs} ms)\n`);
  // Safety: the standby waited out the whole Lease after the last renewal it saw; liveness: it took it.
  expect(new Date(taken.acquireTime!).getTime() - new Date(last.renewTime!).getTime()).toBeGreaterThanOrEqual(durationMs);
  expect(taken.leaseTransitions).toBe((last.leaseTransitions ?? 0) + 1);

  const second = Array.from({ length: 10 }, (_, i) => `second-${i}`);
  for (const name of second) await createSlb(custom, slbManifest(namespace, name));
  await allReady(first.length + second.length);
  expect(await eventReporters(second)).toEqual(new Set([follower.identity]));
  expect(metricValue(await follower.metrics(), 'leader_election_master_status')).toBe(1);
}, 10 * 60_000);

test('SIGTERM: the leader releases the Lease and the watching standby takes it without waiting it out', async () => {
  // Whoever leads after the previous test; a fresh standby joins as a rolling update's new replica would.
  const holder = await waitFor(async () => (await lease()).spec?.holderIdentity || undefined, { what: 'a leader', timeoutMs: 60_000 });
  const leader = replicas.find((r) => r.identity === holder && !r.exited())!;
  const standby = await startOperator({ kubeconfig, dir, identity: 'replica-c', watchNamespace: namespace, leaseName });
  replicas.push(standby);
  await standby.ready();
  await waitFor(() => standby.logLines().some((l) => l.msg === 'new leader observed' && l.leader === holder) || undefined, {
    what: 'the standby to observe the leader', timeoutMs: 60_000,
  });
  const before = (await lease()).spec!;

  const termAt = Date.now();
  await leader.stop();
  const taken = await waitFor(
    async () => {
      const spec = (await lease()).spec;
      return spec?.holderIdentity === standby.identity ? spec : undefined;
    },
    { what: `${standby.identity} to take the Lease`, timeoutMs: 60_000, intervalMs: 50 },
  );
  await standby.leading();
  const handoverMs = Date.now() - termAt;
  process.stderr.write(`[leader] SIGTERM → ${standby.identity} leading in ${handoverMs} ms (lease duration ${before.leaseDurationSeconds} s)\n`);
  expect(leader.logLines().some((l) => l.msg === 'released the lease')).toBe(true);
  // Taken from a released Lease: well before the old holder's Lease could have expired.
  expect(new Date(taken.acquireTime!).getTime() - new Date(before.renewTime!).getTime()).toBeLessThan(before.leaseDurationSeconds! * 1000);
  expect(taken.leaseTransitions).toBe((before.leaseTransitions ?? 0) + 1);

  const third = Array.from({ length: 3 }, (_, i) => `third-${i}`);
  for (const name of third) await createSlb(custom, slbManifest(namespace, name));
  await allReady(23);
  expect(await eventReporters(third)).toEqual(new Set([standby.identity]));
}, 5 * 60_000);
