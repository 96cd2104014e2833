// The cluster's own ceiling, without the operator: the benchmark creates each backend's objects itself,
// as an operator costing nothing would, in each routing shape a backend could have:
//   pods             Pods alone (decision B: the route service sends traffic straight to podIP:port)
//   clusterip        a Pod and a ClusterIP Service per backend (what the operator created until B)
//   headless         a Pod and a headless Service (clusterIP: None) per backend
//   shared-headless  Pods with hostname/subdomain under one shared headless Service (one DNS name each)
//   slb-pod          a SessionLivedBackend (no finalizer, so that nothing waits on an operator) and its
//                    Pod: not a routing shape but the objects every backend has whatever its routing,
//                    written by one client, so the ceiling for an operator that adds nothing but its
//                    status writes
// Each shape is timed to every Pod seen and every Pod Ready by the benchmark's own watch, and the API
// server's own metrics say what it spent, by kind of request and client, until the cluster is quiet again
// (the controller manager's Endpoints and EndpointSlice writes for a Service come after its Pod is Ready).
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CoreV1Api, KubeConfig, KubernetesObject, V1Pod, V1Service } from '@kubernetes/client-node';
import { GROUP, LABEL_BACKEND, LABEL_MANAGED_BY, MANAGED_BY, PLURAL, SIDECAR_PROXY_PORT, VERSION } from '../../common/contract.ts';
import { createInformer } from '../../common/kube/informer.ts';
import { requestJson } from '../../common/kube/rest.ts';
import { memoryLogger } from '../../common/kube/testing/memlog.ts';
import { statusOf, waitFor } from '../../e2e/harness/kube.ts';
import { createNamespace } from '../../operator/test/support/operator-process.ts';
import { slbManifest } from '../../operator/test/support/slbs.ts';
import { desiredPod } from '../../operator/src/spawner/desired.ts';
import { readMetricsText, serverTime, type ServerTimeRow } from './apiserver-metrics.ts';
import { runPool } from './stats.ts';

export const SHAPES = ['pods', 'clusterip', 'headless', 'shared-headless', 'slb-pod'] as const;
export type Shape = (typeof SHAPES)[number];

export const SHAPE_LABEL: Record<Shape, string> = {
  pods: 'Pods alone (decision B)',
  clusterip: 'Pod + ClusterIP Service each',
  headless: 'Pod + headless Service each',
  'shared-headless': 'Pods under one shared headless Service',
  'slb-pod': 'SLB + Pod each, both by the client',
};

// The shared headless Service's name: each Pod is <hostname>.<SHARED>.<namespace>.svc.<cluster domain>.
const SHARED = 'backends';

export interface BaselineResult {
  shape: Shape;
  n: number;
  createdPerS: number; // objects of one backend created (all of its requests answered)
  podsSeenPerS: number; // to the last Pod seen by the watch
  readyPerS: number; // to the last Pod seen Ready
  lastReadyS: number;
  rows: ServerTimeRow[]; // by kind, creation until quiet
  writes: ServerTimeRow; // every client's writes
  load: string;
}

export function podFor(namespace: string, name: string, shape: Shape): V1Pod {
  const slb = { ...slbManifest(namespace, name), metadata: { name, namespace, uid: 'none' } };
  const pod = desiredPod(slb, { sidecarImage: 'localhost/spawner/sidecar:0.1.0' });
  delete pod.metadata!.ownerReferences;
  if (shape === 'shared-headless') pod.spec = { ...pod.spec!, hostname: name, subdomain: SHARED };
  return pod;
}

// The per-backend Service the operator created before decision B: port 80 to the sidecar's proxy port,
// selecting the backend's Pod by its label; headless, the same without a cluster IP.
export function serviceFor(namespace: string, name: string, shape: Shape): V1Service | undefined {
  if (shape !== 'clusterip' && shape !== 'headless') return undefined;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace, labels: { [LABEL_BACKEND]: name, [LABEL_MANAGED_BY]: MANAGED_BY } },
    spec: {
      type: 'ClusterIP',
      ...(shape === 'headless' ? { clusterIP: 'None' } : {}),
      selector: { [LABEL_BACKEND]: name },
      ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: SIDECAR_PROXY_PORT }],
    },
  };
}

export function sharedService(namespace: string): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: SHARED, namespace },
    // As any Service by default: a Pod's name resolves only once it is Ready.
    spec: { clusterIP: 'None', selector: { [LABEL_MANAGED_BY]: MANAGED_BY }, ports: [{ name: 'http', port: 80 }] },
  };
}

// Total writes (every client) the API server has answered, from its request counter.
function writesSoFar(metrics: string): number {
  let n = 0;
  for (const line of metrics.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    if (!/verb="(POST|PUT|PATCH|DELETE)"/.test(line)) continue;
    n += Number(line.trim().split(/\s+/).pop());
  }
  return n;
}

/** Waits until the cluster's writers are done with what a phase caused (few writes per second). */
export async function quiet(kc: KubeConfig, n: number, maxMs = 60_000): Promise<string> {
  const deadline = Date.now() + maxMs;
  let text = await readMetricsText(kc);
  for (;;) {
    await sleep(1000);
    const next = await readMetricsText(kc);
    const delta = writesSoFar(next) - writesSoFar(text);
    text = next;
    // kwok's node heartbeats and leases keep a trickle going: "quiet" is a rate, not zero.
    if (delta <= Math.max(5, n / 500) || Date.now() > deadline) return text;
  }
}

export async function waitNamespaceGone(core: CoreV1Api, name: string, timeoutMs: number): Promise<void> {
  await waitFor(
    async () => {
      try {
        await core.readNamespace({ name });
        return undefined;
      } catch (err) {
        if (statusOf(err) === 404) return true;
        throw err;
      }
    },
    { what: `namespace ${name} to be gone`, timeoutMs, intervalMs: 500 },
  );
}

export async function baselineOnce(
  kc: KubeConfig, core: CoreV1Api, shape: Shape, n: number, parallel: number, log: (line: string) => void,
): Promise<BaselineResult> {
  const namespace = await createNamespace(core, `base-${shape}-${n}`);
  if (shape === 'shared-headless') {
    await requestJson(kc, { method: 'POST', path: `/api/v1/namespaces/${namespace}/services`, body: sharedService(namespace) });
  }
  const seenPod = new Map<string, number>();
  const seenReady = new Map<string, number>();
  const { log: quietLog } = memoryLogger();
  const pods = createInformer<KubernetesObject>({ kubeConfig: kc, path: `/api/v1/namespaces/${namespace}/pods`, log: quietLog, pageSize: 500 });
  pods.onEvent((ev) => {
    if (ev.type === 'delete') return;
    const name = ev.obj.metadata!.name!;
    const t = performance.now();
    if (!seenPod.has(name)) seenPod.set(name, t);
    if (podReady(ev.obj as V1Pod) && !seenReady.has(name)) seenReady.set(name, t);
  });
  await pods.start();
  const loadBefore = os.loadavg()[0]!.toFixed(1);
  const beforeText = await readMetricsText(kc);
  const started = performance.now();
  await runPool(Array.from({ length: n }, (_, i) => `b-${i}`), parallel, async (name) => {
    const service = serviceFor(namespace, name, shape);
    await Promise.all([
      requestJson(kc, { method: 'POST', path: `/api/v1/namespaces/${namespace}/pods`, body: podFor(namespace, name, shape) }),
      service && requestJson(kc, { method: 'POST', path: `/api/v1/namespaces/${namespace}/services`, body: service }),
      shape === 'slb-pod' && requestJson(kc, { method: 'POST', path: `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`, body: slbManifest(namespace, name) }),
    ]);
  });
  const created = performance.now();
  await waitFor(() => seenReady.size >= n || undefined, {
    what: `${n} pods Ready (${shape})`,
    timeoutMs: Math.max(300_000, n * 1000),
    intervalMs: 20,
    onProgress: (line) => log(`${line} (${seenPod.size} Pods, ${seenReady.size} Ready)`),
  });
  const afterText = await quiet(kc, n);
  const loadAfter = os.loadavg()[0]!.toFixed(1);
  pods.stop();
  await core.deleteNamespace({ name: namespace });
  // The next shape must not pay for this one's cleanup.
  await waitNamespaceGone(core, namespace, Math.max(180_000, n * 200));
  const last = (m: Map<string, number>) => (Math.max(...m.values()) - started) / 1000;
  const t = serverTime(beforeText, afterText);
  return {
    shape,
    n,
    createdPerS: n / ((created - started) / 1000),
    podsSeenPerS: n / last(seenPod),
    readyPerS: n / last(seenReady),
    lastReadyS: last(seenReady),
    rows: t.rows,
    writes: t.writes,
    load: `${loadBefore} → ${loadAfter}`,
  };
}

export function podReady(p: V1Pod): boolean {
  return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

export function formatBaseline(r: BaselineResult): string {
  const per = (row: ServerTimeRow) => `${(row.count / r.n).toFixed(2)} req × ${Number.isNaN(row.meanMs) ? '-' : row.meanMs.toFixed(1)} ms`;
  return [
    `baseline ${SHAPE_LABEL[r.shape]}, N=${r.n} (no operator; load average ${r.load})`,
    `  created ${r.createdPerS.toFixed(0)}/s; to Pods seen ${r.podsSeenPerS.toFixed(0)}/s; to Ready ${r.readyPerS.toFixed(0)}/s (last at ${r.lastReadyS.toFixed(2)} s)`,
    `  API server, creation until quiet, per backend: all writes ${per(r.writes)} = ${(r.writes.totalMs / r.n).toFixed(1)} ms`,
    ...r.rows.filter((row) => row.count > 0).map((row) => `    ${row.label.padEnd(44)} ${per(row)} = ${(row.totalMs / r.n).toFixed(1)} ms`),
  ].join('\n');
}
