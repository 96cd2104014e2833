// The sweeper against the real control plane: its own process with the RBAC of manifests/sweeper,
// real sidecar processes on loopback in front of a small HTTP + WebSocket echo app, and SLBs whose
// status the test writes as the operator would (with a loopback address as status.podIP; see
// support/cluster.ts for why). Assertions are about what happens; the only time bounds asserted are
// lower ones (never swept early), which a slow machine cannot break.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeConfig } from '@kubernetes/client-node';
import WebSocket from 'ws';
import { CONDITION_SWEPT } from '../../common/spawner/conditions.ts';
import { requestJson } from '../../common/kube/rest.ts';
import { loadKubeConfig, waitFor } from '../../e2e/harness/kube.ts';
import { startUpstream, type Upstream } from '../../sidecar/test/helpers.ts';
import type { SessionLivedBackend } from '../../common/spawner/types.ts';
import {
  createBackend, createNamespace, deleteNamespace, eventsFor, freePortOn, getBackend, installSweeperRbac,
  LoopbackAddresses, markFailed, markReady, release, startLoopbackSidecar, startSweeper, sweeperKubeConfig, tempDir, writeKubeconfig,
  type LoopbackSidecar, type SweeperProcess,
  survives as survivesIn, sweeperSaw as sweeperSawIn, untilSwept as untilSweptIn,
} from './support/cluster.ts';

jest.setTimeout(240_000);

const NODE = 'sweeper-int-node';
const OTHER_NODE = 'sweeper-int-other-node';
const HEARTBEAT_SECONDS = 2;
// The sidecars here beat every 2 s: a stream silent for 5 s is dead. Apps without a sidecar are polled
// twice a second.
const SWEEPER_ARGS = ['--heartbeat-timeout-ms=5000', '--backoff-max-ms=2000', '--poll-interval-ms=500'];

let admin: KubeConfig;
let namespace: string;
let upstream: Upstream;
let sweeper: SweeperProcess;
const addresses = new LoopbackAddresses();
let adminPort: number;
let proxyPort: number;
const sidecars: LoopbackSidecar[] = [];

beforeAll(async () => {
  admin = loadKubeConfig();
  await installSweeperRbac();
  namespace = await createNamespace(admin, 'sweeper-int');
  const dir = await tempDir('sweeper-int-');
  const kubeconfigFile = await writeKubeconfig(sweeperKubeConfig(admin), `${dir}/sweeper.kubeconfig`);
  upstream = await startUpstream((_req, res) => res.end('app'));
  const probe = addresses.take();
  adminPort = await freePortOn(probe);
  do proxyPort = await freePortOn(probe);
  while (proxyPort === adminPort);
  sweeper = await startSweeper({
    kubeconfigFile,
    nodeName: NODE,
    namespace,
    sidecarAdminPort: adminPort,
    extraArgs: SWEEPER_ARGS,
  });
});

afterAll(async () => {
  await sweeper?.stop();
  await Promise.all(sidecars.map((s) => s.process.stop(5000)));
  await upstream?.close();
  if (namespace) await deleteNamespace(admin, namespace);
});

async function sidecarAt(address: string): Promise<LoopbackSidecar> {
  const sidecar = await startLoopbackSidecar({ address, adminPort, proxyPort, upstreamPort: upstream.port, heartbeatSeconds: HEARTBEAT_SECONDS });
  sidecars.push(sidecar);
  await waitFor(async () => (await statusOf(address)).ready, { what: `the sidecar on ${address} to see the app`, timeoutMs: 60_000 });
  return sidecar;
}

async function statusOf(address: string): Promise<{ active_connections: number; ready: boolean }> {
  const res = await fetch(`http://${address}:${adminPort}/status`);
  return (await res.json()) as { active_connections: number; ready: boolean };
}

function openWs(address: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://${address}:${proxyPort}/`);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

// A backend marked Ready on `node` with `address` as its Pod IP; held by the test's finalizer so the
// condition the sweeper writes can be read after its delete.
async function readyBackend(name: string, address: string, o: { grace: number; maxLifetime?: number; node?: string; statusPort?: number }): Promise<SessionLivedBackend> {
  const created = await createBackend(admin, { namespace, name, grace: o.grace, maxLifetime: o.maxLifetime, statusPort: o.statusPort, hold: true });
  return markReady(admin, created, { nodeName: o.node ?? NODE, podIP: address });
}

const sweeperSaw = (name: string, msg: string, extra?: (line: Record<string, unknown>) => boolean) => sweeperSawIn(sweeper, namespace, name, msg, extra);

const untilSwept = (name: string) => untilSweptIn(admin, namespace, name);

const survives = (name: string, ms: number) => survivesIn(admin, namespace, name, ms);

function sweptCondition(slb: SessionLivedBackend) {
  return slb.status?.conditions?.find((c) => c.type === CONDITION_SWEPT);
}

const wholeSecond = (ms: number) => Math.floor(ms / 1000) * 1000;

async function finish(name: string): Promise<void> {
  await release(admin, namespace, name);
  await waitFor(async () => (await getBackend(admin, namespace, name)) === undefined, { what: `${name} to go once released` });
}

describe('the sweeper on a real control plane', () => {
  test('an open WebSocket keeps its backend past twice the grace period; closed, it is swept as Idle with an Event and a condition', async () => {
    const grace = 2;
    const address = addresses.take();
    await sidecarAt(address);
    const ws = await openWs(address);
    await readyBackend('with-ws', address, { grace });
    await waitFor(() => sweeperSaw('with-ws', 'activity', (l) => l.active_connections === 1), { what: 'the sweeper to see the open WebSocket' });

    await survives('with-ws', 2 * grace * 1000 + 1000);

    const closedAt = Date.now();
    ws.close();
    const swept = await untilSwept('with-ws');
    const condition = sweptCondition(swept);
    expect(condition).toMatchObject({ status: 'True', reason: 'Idle' });
    expect(condition?.message).toMatch(/^no connection for \d+s \(gracePeriodSeconds 2\)$/);
    // Never early: not before the grace period after the close (the condition has whole seconds).
    expect(Date.parse(condition!.lastTransitionTime)).toBeGreaterThanOrEqual(wholeSecond(closedAt + grace * 1000));

    const events = await eventsFor(admin, namespace, 'with-ws');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      reason: 'Idle',
      type: 'Normal',
      message: condition!.message,
      involvedObject: { kind: 'SessionLivedBackend', name: 'with-ws', uid: swept.metadata.uid },
      source: { component: 'spawner-sweeper', host: NODE },
    });
    // The sweeper logs 'swept' once its delete call has returned, which may be after we saw the deletion.
    await waitFor(() => sweeperSaw('with-ws', 'swept'), { what: "the sweeper's 'swept' log line" });
    await finish('with-ws');
  });

  test('maxLifetimeSeconds sweeps a backend even while a WebSocket is open', async () => {
    const address = addresses.take();
    await sidecarAt(address);
    const ws = await openWs(address);
    const slb = await readyBackend('too-old', address, { grace: 300, maxLifetime: 4 });
    const swept = await untilSwept('too-old');
    expect(ws.readyState).toBe(WebSocket.OPEN); // the connection was live all along
    ws.close();
    const condition = sweptCondition(swept);
    expect(condition).toMatchObject({ status: 'True', reason: 'MaxLifetime' });
    expect(condition?.message).toMatch(/^lived \d+s, maxLifetimeSeconds is 4$/);
    expect(Date.parse(condition!.lastTransitionTime)).toBeGreaterThanOrEqual(Date.parse(String(slb.metadata.creationTimestamp)) + 4000);
    expect((await eventsFor(admin, namespace, 'too-old')).map((e) => e.reason)).toEqual(['MaxLifetime']);
    await finish('too-old');
  });

  test('a sidecar lost while a connection was open is not taken as idle; back and idle, it is swept', async () => {
    const grace = 2;
    const address = addresses.take();
    const first = await sidecarAt(address);
    const ws = await openWs(address);
    ws.on('error', () => {});
    await readyBackend('lost', address, { grace });
    await waitFor(() => sweeperSaw('lost', 'activity', (l) => l.active_connections === 1), { what: 'the sweeper to see the open WebSocket' });

    first.process.child.kill('SIGKILL'); // the pod's sidecar dies without a word
    await waitFor(() => sweeperSaw('lost', 'sidecar unreachable'), { what: 'the sweeper to notice the sidecar is gone' });
    await survives('lost', 2 * grace * 1000 + 1000);

    // Back (as after a container restart), with no connection: retried with backoff, then idle.
    const backAt = Date.now();
    await sidecarAt(address);
    const swept = await untilSwept('lost');
    expect(sweeperSaw('lost', 'sidecar reachable again')).toBe(true);
    expect(sweptCondition(swept)).toMatchObject({ status: 'True', reason: 'Idle' });
    expect(Date.parse(sweptCondition(swept)!.lastTransitionTime)).toBeGreaterThanOrEqual(wholeSecond(backAt + grace * 1000));
    await finish('lost');
  });

  test('a sidecar never reached is swept as Unreachable, not before its grace period', async () => {
    const grace = 3;
    const address = addresses.take(); // nothing listens there
    const readyAt = Date.now();
    await readyBackend('never-reached', address, { grace });
    const swept = await untilSwept('never-reached');
    const condition = sweptCondition(swept);
    expect(condition).toMatchObject({ status: 'True', reason: 'Unreachable' });
    expect(condition?.message).toMatch(/^sidecar unreachable for \d+s with no connection known \(gracePeriodSeconds 3\)$/);
    expect(Date.parse(condition!.lastTransitionTime)).toBeGreaterThanOrEqual(wholeSecond(readyAt + grace * 1000));
    expect(sweeperSaw('never-reached', 'sidecar unreachable')).toBe(true);
    await finish('never-reached');
  });

  test('a backend on another node is never followed or touched, while one on this node is swept', async () => {
    const elsewhere = addresses.take();
    await sidecarAt(elsewhere);
    await readyBackend('elsewhere', elsewhere, { grace: 0, node: OTHER_NODE });
    const here = addresses.take();
    await sidecarAt(here);
    await readyBackend('here', here, { grace: 1 });
    await untilSwept('here');
    await finish('here');
    await sleep(2000); // more time for a mistake to show

    const slb = await getBackend(admin, namespace, 'elsewhere');
    expect(slb?.metadata.deletionTimestamp).toBeUndefined();
    expect(sweptCondition(slb!)).toBeUndefined();
    expect(await eventsFor(admin, namespace, 'elsewhere')).toEqual([]);
    expect(sweeper.logLines.filter((l) => l.name === 'elsewhere')).toEqual([]);
  });

  test('without a sidecar the app’s /status is polled: kept while a connection is open, swept once idle', async () => {
    // The app's own /status is played by a sidecar's admin port, which serves the same JSON.
    const grace = 2;
    const address = addresses.take();
    await sidecarAt(address);
    const ws = await openWs(address);
    await readyBackend('no-sidecar', address, { grace, statusPort: adminPort });
    await waitFor(() => sweeperSaw('no-sidecar', 'following activity', (l) => l.mode === 'poll'), { what: 'the sweeper to poll /status' });
    await waitFor(() => sweeperSaw('no-sidecar', 'activity', (l) => l.active_connections === 1), { what: 'a poll to see the open WebSocket' });
    await survives('no-sidecar', 2 * grace * 1000 + 1000);
    const closedAt = Date.now();
    ws.close();
    const swept = await untilSwept('no-sidecar');
    expect(sweptCondition(swept)).toMatchObject({ status: 'True', reason: 'Idle' });
    expect(Date.parse(sweptCondition(swept)!.lastTransitionTime)).toBeGreaterThanOrEqual(wholeSecond(closedAt + grace * 1000));
    await finish('no-sidecar');
  });

  test('a Failed backend on this node is left to the operator (which expires Failed backends)', async () => {
    const grace = 1;
    const created = await createBackend(admin, { namespace, name: 'failed', grace, hold: true });
    await markFailed(admin, created, { nodeName: NODE });
    await survives('failed', 2 * grace * 1000 + 1000);
    expect(await eventsFor(admin, namespace, 'failed')).toEqual([]);
    // Not swept, so the test deletes it (as the operator would) before releasing the test's finalizer.
    await requestJson(admin, { method: 'DELETE', path: `/apis/spawner.dev/v1/namespaces/${namespace}/sessionlivedbackends/failed` });
    await finish('failed');
  });

  test('a restarted sweeper takes the idle time from the sidecar and still never sweeps early', async () => {
    const grace = 5;
    const address = addresses.take();
    await sidecarAt(address);
    const ws = await openWs(address);
    await readyBackend('restart', address, { grace });
    await waitFor(() => sweeperSaw('restart', 'activity', (l) => l.active_connections === 1), { what: 'the sweeper to see the open WebSocket' });
    const closedAt = Date.now();
    ws.close();
    await waitFor(() => sweeperSaw('restart', 'activity', (l) => l.active_connections === 0), { what: 'the sweeper to see it closed' });

    // The countdown is running when the sweeper goes away; a new one knows nothing but what the API
    // server and the sidecar tell it.
    const { kubeconfigFile } = sweeper;
    expect(await sweeper.stop()).toBe(0);
    sweeper = await startSweeper({ kubeconfigFile, nodeName: NODE, namespace, sidecarAdminPort: adminPort, extraArgs: SWEEPER_ARGS });
    const swept = await untilSwept('restart');
    await waitFor(() => sweeperSaw('restart', 'swept'), { what: "the new sweeper process's 'swept' log line" });
    expect(sweptCondition(swept)).toMatchObject({ status: 'True', reason: 'Idle' });
    expect(Date.parse(sweptCondition(swept)!.lastTransitionTime)).toBeGreaterThanOrEqual(wholeSecond(closedAt + grace * 1000));
    await finish('restart');
  });

  test('its service account may do what the sweeper needs and nothing else', async () => {
    const as = sweeperKubeConfig(admin);
    const can = async (verb: string, resource: string, subresource = '', group = 'spawner.dev') => {
      const review = await requestJson<{ status: { allowed: boolean } }>(as, {
        method: 'POST',
        path: '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
        body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: { namespace, verb, resource, subresource, group } } },
      });
      return review.status.allowed;
    };
    const table: [string, string, string, string, boolean][] = [
      ['get', 'sessionlivedbackends', '', 'spawner.dev', true],
      ['list', 'sessionlivedbackends', '', 'spawner.dev', true],
      ['watch', 'sessionlivedbackends', '', 'spawner.dev', true],
      ['delete', 'sessionlivedbackends', '', 'spawner.dev', true],
      ['patch', 'sessionlivedbackends', 'status', 'spawner.dev', true],
      ['create', 'events', '', '', true],
      ['create', 'sessionlivedbackends', '', 'spawner.dev', false],
      ['patch', 'sessionlivedbackends', '', 'spawner.dev', false],
      ['update', 'sessionlivedbackends', '', 'spawner.dev', false],
      ['update', 'sessionlivedbackends', 'status', 'spawner.dev', false],
      ['deletecollection', 'sessionlivedbackends', '', 'spawner.dev', false],
      ['get', 'pods', '', '', false],
      ['delete', 'pods', '', '', false],
      ['list', 'services', '', '', false],
      ['get', 'secrets', '', '', false],
      ['patch', 'events', '', '', false],
    ];
    const answers = await Promise.all(table.map(([verb, resource, sub, group]) => can(verb, resource, sub, group)));
    expect(table.map(([verb, resource, sub], i) => `${verb} ${resource}${sub ? `/${sub}` : ''}: ${answers[i]}`)).toEqual(
      table.map(([verb, resource, sub, , allowed]) => `${verb} ${resource}${sub ? `/${sub}` : ''}: ${allowed}`),
    );
  });
});
