// What the sweeper's integration tests and benchmark need around a real control plane: the sweeper as
// its own process with the RBAC of manifests/sweeper (admin credentials plus impersonation of its
// service account), sidecar processes on loopback, and SLBs whose status the test writes itself.
//
// Why the test writes status: no operator runs here. In a cluster the operator copies the Pod's IP to
// status.podIP and the sweeper connects to <podIP>:<sidecar admin port>. kwok's pods get IPs where
// nothing listens, so instead each backend gets a loopback address of its own (127.x.y.z: the whole
// 127/8 block reaches the loopback interface on Linux), a real sidecar process listens on that address
// with the same admin port for every backend, and the test writes that address as status.podIP. The
// sweeper runs unmodified, production code path and flags included.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp } from 'node:fs/promises';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeConfig } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION } from '../../../common/contract.ts';
import { CONDITION_READY, CONDITION_SWEPT } from '../../../common/spawner/conditions.ts';
import { requestJson } from '../../../common/kube/rest.ts';
import { impersonating, kubectl, waitFor, writeKubeconfig } from '../../../e2e/harness/kube.ts';
import { spawnSidecar, type SidecarProcess } from '../../../sidecar/test/process.ts';
import type { SessionLivedBackend } from '../../../common/spawner/types.ts';

const repoRoot = path.resolve(import.meta.dirname, '../../..');
export const SWEEPER_MAIN = path.join(repoRoot, 'sweeper/src/main.ts');
export const SWEEPER_RBAC = path.join(repoRoot, 'manifests/sweeper/rbac.yaml');
export const SYSTEM_NAMESPACE = 'spawner-system';
export const SWEEPER_ACCOUNT = 'spawner-sweeper';

export async function installSweeperRbac(): Promise<void> {
  await waitFor(
    async () => {
      await kubectl(['create', 'namespace', SYSTEM_NAMESPACE]).catch((err: Error) => {
        if (!/AlreadyExists|already exists/.test(err.message)) throw err;
      });
      await kubectl(['apply', '-n', SYSTEM_NAMESPACE, '-f', SWEEPER_RBAC]);
      return true;
    },
    { what: 'the sweeper RBAC to apply', timeoutMs: 60_000, intervalMs: 1000 },
  );
}

export function sweeperKubeConfig(admin: KubeConfig): KubeConfig {
  return impersonating(admin, SYSTEM_NAMESPACE, SWEEPER_ACCOUNT);
}

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

// ---- loopback addresses, one per backend ----

// A /24 of 127/8 picked per process, so two suites on one machine do not share addresses.
export class LoopbackAddresses {
  readonly #prefix = `127.${100 + (process.pid % 150)}.${Math.floor(Math.random() * 250) + 1}`;
  #next = 1;
  take(): string {
    if (this.#next > 254) throw new Error('out of loopback addresses');
    return `${this.#prefix}.${this.#next++}`;
  }
}

// A port free on `host`; the sidecars then bind it on their own addresses (where nothing else can
// hold it unless bound to every interface, which would have made this bind fail too).
export async function freePortOn(host: string): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

export interface LoopbackSidecar {
  address: string;
  process: SidecarProcess;
}

export async function startLoopbackSidecar(o: { address: string; adminPort: number; proxyPort: number; upstreamPort: number; heartbeatSeconds: number }): Promise<LoopbackSidecar> {
  const process = await spawnSidecar({
    args: [
      `--upstream-port=${o.upstreamPort}`,
      `--listen-host=${o.address}`,
      `--proxy-port=${o.proxyPort}`,
      `--admin-port=${o.adminPort}`,
      `--heartbeat-seconds=${o.heartbeatSeconds}`,
      '--probe-fast-ms=50',
      '--shutdown-grace-seconds=1',
    ],
  });
  return { address: o.address, process };
}

// ---- the sweeper process ----

export interface SweeperProcess {
  child: ChildProcess;
  kubeconfigFile: string;
  healthPort: number;
  logLines: Record<string, unknown>[];
  stop(): Promise<number | null>;
}

// `asUser`: run it as this unprivileged user with no capabilities (setpriv; needs root), as the
// DaemonSet runs it; the kubeconfig must then be readable by that user.
export async function startSweeper(o: { kubeconfigFile: string; nodeName: string; namespace: string; sidecarAdminPort: number; extraArgs?: string[]; asUser?: number }): Promise<SweeperProcess> {
  const unprivileged = o.asUser === undefined ? [] : ['setpriv', `--reuid=${o.asUser}`, `--regid=${o.asUser}`, '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--'];
  const child = spawn(
    unprivileged[0] ?? process.execPath,
    [
      ...unprivileged.slice(1),
      ...(unprivileged.length > 0 ? [process.execPath] : []),
      SWEEPER_MAIN,
      `--kubeconfig=${o.kubeconfigFile}`,
      `--node-name=${o.nodeName}`,
      `--namespace=${o.namespace}`,
      // Port 0, read back from its 'sweeper starting' line: a port picked here could be taken by another
      // process before the sweeper binds it, and that process's /readyz would answer for the sweeper.
      '--health-port=0',
      `--sidecar-admin-port=${o.sidecarAdminPort}`,
      ...(o.extraArgs ?? []),
    ],
    { env: { ...process.env, LOG_LEVEL: process.env.SWEEPER_TEST_LOG_LEVEL ?? 'debug' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const logLines: Record<string, unknown>[] = [];
  let stderr = '';
  let buffered = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      try {
        logLines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a log line
      }
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = once(child, 'exit') as Promise<[number | null]>;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    const kill = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.kill('SIGTERM');
    const [code] = await exited;
    clearTimeout(kill);
    return code;
  };
  const failFast = () => (child.exitCode !== null ? `it exited with ${child.exitCode}: ${stderr}` : undefined);
  let healthPort = 0;
  try {
    healthPort = await waitFor(() => Number(logLines.find((l) => l.msg === 'sweeper starting')?.healthPort) || undefined, {
      what: "the sweeper's 'sweeper starting' line",
      timeoutMs: 60_000,
      intervalMs: 25,
      failFast,
    });
    await waitFor(
      async () => {
        const res = await fetch(`http://127.0.0.1:${healthPort}/readyz`);
        return res.status === 200;
      },
      { what: 'the sweeper to list its backends (/readyz 200)', timeoutMs: 120_000, failFast },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { child, kubeconfigFile: o.kubeconfigFile, healthPort, logLines, stop };
}

// ---- SLBs, read and written with the admin credentials ----

const slbs = (namespace: string) => `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`;

export const TEST_FINALIZER = 'test.spawner.dev/hold';

export interface BackendShape {
  namespace: string;
  name: string;
  grace: number;
  maxLifetime?: number;
  // The app serves /status itself on this port (spec.sidecar.enabled false).
  statusPort?: number;
  // Keeps the object after the sweeper's delete (as the operator's finalizer does), so the test can read
  // the condition the sweeper wrote; the test releases it.
  hold?: boolean;
}

export async function createBackend(admin: KubeConfig, b: BackendShape): Promise<SessionLivedBackend> {
  return requestJson<SessionLivedBackend>(admin, {
    method: 'POST',
    path: slbs(b.namespace),
    body: {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'SessionLivedBackend',
      metadata: { name: b.name, namespace: b.namespace, ...(b.hold ? { finalizers: [TEST_FINALIZER] } : {}) },
      spec: {
        template: { containers: [{ name: 'app', image: 'example.invalid/app:1' }] },
        gracePeriodSeconds: b.grace,
        ...(b.maxLifetime !== undefined ? { maxLifetimeSeconds: b.maxLifetime } : {}),
        ...(b.statusPort !== undefined ? { sidecar: { enabled: false, statusPort: b.statusPort } } : {}),
      },
    },
  });
}

const rfc3339 = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

function writeStatus(admin: KubeConfig, slb: SessionLivedBackend, status: Record<string, unknown>): Promise<SessionLivedBackend> {
  return requestJson<SessionLivedBackend>(admin, {
    method: 'PATCH',
    path: `${slbs(slb.metadata.namespace!)}/${slb.metadata.name}/status`,
    contentType: 'application/merge-patch+json',
    body: { status },
  });
}

// What the operator writes once the Pod is Ready, with the backend's loopback address as its Pod IP.
// `node`: the backend is in node mode (no sidecar; its Pod, found by this UID, is read from the node).
export async function markReady(
  admin: KubeConfig,
  slb: SessionLivedBackend,
  o: { nodeName: string; podIP: string; readyAt?: Date; node?: { podUID: string } },
): Promise<SessionLivedBackend> {
  const at = rfc3339(o.readyAt ?? new Date());
  return writeStatus(admin, slb, {
    phase: 'Ready',
    nodeName: o.nodeName,
    podName: slb.metadata.name,
    podIP: o.podIP,
    ...(o.node ? { activitySource: 'Node', podUID: o.node.podUID } : {}),
    readyTime: at,
    conditions: [
      { type: 'Scheduled', status: 'True', reason: 'Scheduled', message: `on ${o.nodeName}`, lastTransitionTime: at },
      { type: CONDITION_READY, status: 'True', reason: 'PodReady', message: 'the Pod is Ready', lastTransitionTime: at },
    ],
  });
}

// What the operator writes when a backend that never became Ready fails on a node (its Ready condition
// stays False from creation, so only the sweeper's own first sight dates the failure).
export async function markFailed(admin: KubeConfig, slb: SessionLivedBackend, o: { nodeName: string }): Promise<SessionLivedBackend> {
  const created = rfc3339(new Date(String(slb.metadata.creationTimestamp)));
  return writeStatus(admin, slb, {
    phase: 'Failed',
    nodeName: o.nodeName,
    podName: slb.metadata.name,
    reason: 'ErrImagePull',
    message: 'container app: the image cannot be pulled',
    conditions: [
      { type: 'Scheduled', status: 'True', reason: 'Scheduled', message: `on ${o.nodeName}`, lastTransitionTime: created },
      { type: CONDITION_READY, status: 'False', reason: 'ErrImagePull', message: 'container app: the image cannot be pulled', lastTransitionTime: created },
    ],
  });
}

export async function getBackend(admin: KubeConfig, namespace: string, name: string): Promise<SessionLivedBackend | undefined> {
  try {
    return await requestJson<SessionLivedBackend>(admin, { path: `${slbs(namespace)}/${name}` });
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return undefined;
    throw err;
  }
}

// Deleted, as far as the test can tell: gone, or (held by the test's finalizer) marked for deletion.
export async function deletionRequested(admin: KubeConfig, namespace: string, name: string): Promise<SessionLivedBackend | 'gone' | undefined> {
  const slb = await getBackend(admin, namespace, name);
  if (slb === undefined) return 'gone';
  return slb.metadata.deletionTimestamp ? slb : undefined;
}

// Waits until the sweeper has asked to delete the backend (the test's finalizer holds it there).
export async function untilSwept(admin: KubeConfig, namespace: string, name: string): Promise<SessionLivedBackend> {
  const result = await waitFor(() => deletionRequested(admin, namespace, name), { what: `${name} to be deleted by the sweeper`, timeoutMs: 120_000 });
  if (result === 'gone') throw new Error(`${name} vanished: the test's finalizer should have held it`);
  return result;
}

// Polls for `ms` that the backend is still there and not being deleted.
export async function survives(admin: KubeConfig, namespace: string, name: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const slb = await getBackend(admin, namespace, name);
    // Thrown rather than expect()ed: benchmarks import this module outside jest.
    if (slb?.metadata.deletionTimestamp) throw new Error(`${name} is being deleted (since ${String(slb.metadata.deletionTimestamp)}); it should have survived`);
    const swept = slb?.status?.conditions?.find((c) => c.type === CONDITION_SWEPT);
    if (swept) throw new Error(`${name} has a Swept condition (${swept.status} ${swept.reason}: ${swept.message}); it should have survived`);
    await sleep(250);
  }
}

// Whether the sweeper logged `msg` about this backend (and `extra` holds for the line).
export function sweeperSaw(
  sweeper: { logLines: Record<string, unknown>[] }, namespace: string, name: string, msg: string,
  extra: (line: Record<string, unknown>) => boolean = () => true,
): boolean {
  return sweeper.logLines.some((l) => l.name === name && l.namespace === namespace && l.msg === msg && extra(l));
}

export async function release(admin: KubeConfig, namespace: string, name: string): Promise<void> {
  try {
    await requestJson(admin, {
      method: 'PATCH',
      path: `${slbs(namespace)}/${name}`,
      contentType: 'application/merge-patch+json',
      body: { metadata: { finalizers: null } },
    });
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode !== 404) throw err;
  }
}

export interface CoreEventLite {
  reason: string;
  message: string;
  type: string;
  involvedObject: { name: string; uid: string; kind: string };
  source?: { component?: string; host?: string };
}

export async function eventsFor(admin: KubeConfig, namespace: string, name: string): Promise<CoreEventLite[]> {
  const list = await requestJson<{ items: CoreEventLite[] }>(admin, {
    path: `/api/v1/namespaces/${namespace}/events`,
    query: { fieldSelector: `involvedObject.name=${name}` },
  });
  return list.items;
}

export async function createNamespace(admin: KubeConfig, prefix: string): Promise<string> {
  const name = `${prefix}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e4)}`;
  await requestJson(admin, { method: 'POST', path: '/api/v1/namespaces', body: { metadata: { name } } });
  return name;
}

export async function deleteNamespace(admin: KubeConfig, name: string): Promise<void> {
  // Objects the test still holds would keep the namespace Terminating forever.
  const list = await requestJson<{ items: SessionLivedBackend[] }>(admin, { path: slbs(name) }).catch(() => ({ items: [] }));
  for (const slb of list.items) await release(admin, name, slb.metadata.name!);
  await requestJson(admin, { method: 'DELETE', path: `/api/v1/namespaces/${name}` }).catch(() => undefined);
}

export { writeKubeconfig };
