// Node mode against the real control plane: the sweeper as its own process, unprivileged (nobody, no
// capabilities) with the RBAC of manifests/sweeper, following backends whose "Pods" are real network
// namespaces made here (support/netns-lab.ts: an app running inside as another unprivileged user, in a
// cgroup named the way the kubelet names a Pod's). The test writes each backend's status as the operator
// would (Ready, node mode, the Pod's UID and address). Clients run in a namespace of their own (as the
// router does); probes come from the node's namespace (as the kubelet's do). Needs root to set this up.
// The only time bounds asserted are lower ones (never swept early).
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { chmod } from 'node:fs/promises';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeConfig } from '@kubernetes/client-node';
import { CONDITION_SWEPT } from '../../common/spawner/conditions.ts';
import type { SessionLivedBackend } from '../../common/spawner/types.ts';
import { loadKubeConfig, waitFor } from '../../e2e/harness/kube.ts';
import {
  createBackend, createNamespace, deleteNamespace, getBackend, installSweeperRbac, markReady, release, startSweeper,
  sweeperKubeConfig, tempDir, writeKubeconfig, type SweeperProcess,
  survives as survivesIn, sweeperSaw as sweeperSawIn, untilSwept as untilSweptIn,
} from './support/cluster.ts';
import { NetnsLab, UNPRIVILEGED_UID, type Netns, type PodProcess, type Program, tcpProbe as tcpProbeTo } from './support/netns-lab.ts';

jest.setTimeout(300_000);

const NODE = 'sweeper-node-mode-node';
const APP_PORT = 8080;
const SWEEPER_ARGS = ['--node-interval-ms=250', '--node-resolve-ms=1000'];

let admin: KubeConfig;
let namespace: string;
let sweeper: SweeperProcess;
let kubeconfigFile: string;
let lab: NetnsLab;
let peerNs: Netns;
let peer: Program;

beforeAll(async () => {
  lab = await NetnsLab.create();
  peerNs = await lab.addNamespace();
  peer = await lab.startPeer(peerNs, 'client');
  admin = loadKubeConfig();
  await installSweeperRbac();
  namespace = await createNamespace(admin, 'sweeper-node');
  const dir = await tempDir('sweeper-node-');
  await chmod(dir, 0o755);
  kubeconfigFile = await writeKubeconfig(sweeperKubeConfig(admin), `${dir}/sweeper.kubeconfig`);
  await chmod(kubeconfigFile, 0o644);
  sweeper = await start();
});

afterAll(async () => {
  await sweeper?.stop();
  if (namespace) await deleteNamespace(admin, namespace);
  await lab?.close();
});

function start(): Promise<SweeperProcess> {
  return startSweeper({ kubeconfigFile, nodeName: NODE, namespace, sidecarAdminPort: 9091, extraArgs: SWEEPER_ARGS, asUser: UNPRIVILEGED_UID });
}

// A backend whose Pod is a fresh namespace with the app in it, Ready in node mode.
async function nodeBackend(name: string, grace: number): Promise<{ pod: PodProcess; slb: SessionLivedBackend }> {
  const pod = await lab.startPod(await lab.addNamespace(), 'app', ['--port', String(APP_PORT), '--delay-ms', '50']);
  const created = await createBackend(admin, { namespace, name, grace, hold: true });
  const slb = await markReady(admin, created, { nodeName: NODE, podIP: pod.ns.ip, node: { podUID: pod.podUid } });
  await waitFor(() => sweeperSaw(name, 'following activity', (l) => l.mode === 'node'), { what: `the sweeper to follow ${name} from the node` });
  return { pod, slb };
}

const sweeperSaw = (name: string, msg: string, extra?: (line: Record<string, unknown>) => boolean) => sweeperSawIn(sweeper, namespace, name, msg, extra);

const untilSwept = (name: string) => untilSweptIn(admin, namespace, name);

const survives = (name: string, ms: number) => survivesIn(admin, namespace, name, ms);

const swept = (slb: SessionLivedBackend) => slb.status?.conditions?.find((c) => c.type === CONDITION_SWEPT);
const wholeSecond = (ms: number) => Math.floor(ms / 1000) * 1000;

async function finish(name: string): Promise<void> {
  await release(admin, namespace, name);
  await waitFor(async () => (await getBackend(admin, namespace, name)) === undefined, { what: `${name} to go once released` });
}

const tcpProbe = (ip: string) => tcpProbeTo(ip, APP_PORT);

function httpProbe(ip: string): Promise<void> {
  return new Promise((resolve, reject) => {
    http.get({ host: ip, port: APP_PORT, path: '/', agent: false, headers: { connection: 'close' } }, (res) => res.resume().on('end', () => resolve())).on('error', reject);
  });
}

describe('node mode: the sweeper reads the Pods from the node', () => {
  test('(1) a silent connection keeps its backend past twice the grace period; closed, it is swept as Idle, never early', async () => {
    const grace = 3;
    const { pod } = await nodeBackend('silent', grace);
    await peer.send('open', { key: 'silent', host: pod.ns.ip, port: APP_PORT });
    await waitFor(() => sweeperSaw('silent', 'activity', (l) => l.active_connections === 1), { what: 'the sweeper to see the connection' });
    await survives('silent', 2 * grace * 1000 + 1000);
    const closing = Date.now();
    await peer.send('close', { key: 'silent' });
    const slb = await untilSwept('silent');
    expect(swept(slb)).toMatchObject({ status: 'True', reason: 'Idle' });
    expect(Date.parse(swept(slb)!.lastTransitionTime)).toBeGreaterThanOrEqual(wholeSecond(closing + grace * 1000));
    await finish('silent');
  });

  test.each(['client', 'server'] as const)('(2) a 50 ms request every grace/2 keeps it alive (the %s closes first); once they stop, swept a grace period after the last', async (closer) => {
    const grace = 4;
    const name = `requests-${closer}`;
    const { pod } = await nodeBackend(name, grace);
    const until = Date.now() + 3 * grace * 1000;
    let last = 0;
    while (Date.now() < until) {
      const r = await peer.send<{ startedAt: number }>('request', { host: pod.ns.ip, port: APP_PORT, closer });
      last = r.startedAt;
      expect((await getBackend(admin, namespace, name))?.metadata.deletionTimestamp).toBeUndefined();
      await sleep((grace * 1000) / 2);
    }
    const slb = await untilSwept(name);
    expect(swept(slb)).toMatchObject({ status: 'True', reason: 'Idle' });
    expect(Date.parse(swept(slb)!.lastTransitionTime)).toBeGreaterThanOrEqual(wholeSecond(last + grace * 1000));
    await finish(name);
  });

  test("(3) a backend that only receives the node's probes, and whose app only talks outward, is swept on its grace period", async () => {
    const grace = 3;
    const { pod } = await nodeBackend('probed', grace);
    await peer.send('serve', { port: 5432 }).catch(() => {}); // may already serve from another test
    let probing = true;
    const probes = (async () => {
      while (probing) {
        await tcpProbe(pod.ns.ip).catch(() => {});
        await httpProbe(pod.ns.ip).catch(() => {});
        await pod.program.send('request-outbound', { host: peerNs.ip, port: 5432 }).catch(() => {});
        await sleep(300);
      }
    })();
    // Swept while the probes go on: they never count.
    const slb = await untilSwept('probed');
    probing = false;
    await probes;
    expect(swept(slb)).toMatchObject({ status: 'True', reason: 'Idle' });
    await finish('probed');
  });

  test('(4) a restarted sweeper cannot know how long a backend was idle: its countdown starts again, never early', async () => {
    const grace = 4;
    const { pod } = await nodeBackend('restarted', grace);
    await peer.send('request', { host: pod.ns.ip, port: APP_PORT, closer: 'server' });
    await sleep(1000);
    expect(await sweeper.stop()).toBe(0);
    const restartedAt = Date.now();
    sweeper = await start();
    const slb = await untilSwept('restarted');
    expect(swept(slb)).toMatchObject({ status: 'True', reason: 'Idle' });
    expect(Date.parse(swept(slb)!.lastTransitionTime)).toBeGreaterThanOrEqual(wholeSecond(restartedAt + grace * 1000));
    await finish('restarted');
  });

  test('a backend whose Pod has no process on this node is swept as Unreachable, not before its grace period', async () => {
    const grace = 2;
    const created = await createBackend(admin, { namespace, name: 'nowhere', grace, hold: true });
    const readyAt = Date.now();
    await markReady(admin, created, { nodeName: NODE, podIP: '10.213.0.250', node: { podUID: '00000000-0000-4000-8000-000000000000' } });
    const slb = await untilSwept('nowhere');
    expect(swept(slb)).toMatchObject({ status: 'True', reason: 'Unreachable' });
    expect(swept(slb)!.message).toMatch(/^the Pod's processes unreachable for \d+s/);
    expect(Date.parse(swept(slb)!.lastTransitionTime)).toBeGreaterThanOrEqual(wholeSecond(readyAt + grace * 1000));
    await finish('nowhere');
  });
});
