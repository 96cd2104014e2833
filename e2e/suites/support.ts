// Helpers of the end-to-end suite: SLBs through kubectl, the public nginx URL, WebSocket players,
// and a look at a backend's activity: its sidecar's, from inside its pod (works on kind too, where pod
// addresses are not reachable from the machine running the tests), or the node observer's, from here.
import { WebSocket } from 'ws';
import { execa } from 'execa';
import { kubectl, kubectlPath, waitFor } from '../harness/kube.ts';
import { API_VERSION, KIND, LABEL_BACKEND, SIDECAR_ADMIN_PORT, SIDECAR_CONTAINER } from '../../common/contract.ts';
import type { BackendActivity } from '../../common/contract.ts';
import { ACCESS_KEY_SECRET, ACCESS_KEY_SECRET_ENTRY, backendUrl, mintAccessToken, parseAccessKey, type AccessKey } from '../../common/spawner/access.ts';
import { createLogger } from '../../common/log.ts';
import { NodeObserver } from '../../sweeper/src/node/observer.ts';

export { kubectl, waitFor };

/** Where browsers reach nginx: the NodePort on localhost, as the operator's SPAWNER_PUBLIC_URL says. */
export const publicBase = (process.env.SPAWNER_E2E_PUBLIC_URL ?? 'http://localhost:30080').replace(/\/$/, '');
/** Backends live where the router routes: the backends' namespace of the shipped overlays. */
export const backendNamespace = 'spawner-backends';
export const demoImage = process.env.SPAWNER_E2E_DEMO_IMAGE ?? 'localhost/spawner/drop-four:0.1.0';
/** Every wait is generous: the machine has 2 shared cores. */
export const longWaitMs = 180_000;
/** A label on everything the suite creates, so a run can find (and clean) its own backends. */
export const e2eLabel = 'spawner.dev/e2e';

export interface SlbStatus {
  phase?: string;
  url?: string;
  reason?: string;
  message?: string;
  podName?: string;
  podIP?: string;
  podUID?: string;
  activitySource?: string;
  serviceName?: string;
  nodeName?: string;
  conditions?: { type: string; status: string; reason?: string; message?: string }[];
}
export interface Slb {
  metadata: { name: string; uid: string; deletionTimestamp?: string };
  spec: Record<string, unknown>;
  status?: SlbStatus;
}

export interface SlbOptions {
  prefix: string;
  image?: string;
  gracePeriodSeconds?: number;
  startupTimeoutSeconds?: number;
  sidecar?: boolean; // true: ask for the sidecar; false: the app serves /status; unset: the operator's default (node)
  command?: string[];
  readinessProbe?: Record<string, unknown>;
  env?: Record<string, string>;
}

export function slbManifest(o: SlbOptions): Record<string, unknown> {
  const app: Record<string, unknown> = {
    name: 'app',
    image: o.image ?? demoImage,
    imagePullPolicy: 'IfNotPresent',
  };
  if (o.command) app.command = o.command;
  if (o.env) app.env = Object.entries(o.env).map(([name, value]) => ({ name, value }));
  if (o.readinessProbe) app.readinessProbe = o.readinessProbe;
  const spec: Record<string, unknown> = { httpPort: 8080, template: { containers: [app] } };
  if (o.gracePeriodSeconds !== undefined) spec.gracePeriodSeconds = o.gracePeriodSeconds;
  if (o.startupTimeoutSeconds !== undefined) spec.startupTimeoutSeconds = o.startupTimeoutSeconds;
  if (o.sidecar !== undefined) spec.sidecar = { enabled: o.sidecar };
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { generateName: `${o.prefix}-`, namespace: backendNamespace, labels: { [e2eLabel]: 'true' } },
    spec,
  };
}

/** Creates an SLB and returns its generated name. */
export async function createSlb(o: SlbOptions): Promise<string> {
  return kubectl(['create', '-o', 'jsonpath={.metadata.name}', '-f', '-'], { input: JSON.stringify(slbManifest(o)) });
}

export async function getSlb(name: string): Promise<Slb | undefined> {
  try {
    return JSON.parse(await kubectl(['get', 'slb', '-n', backendNamespace, name, '-o', 'json'])) as Slb;
  } catch (err) {
    if (/NotFound/.test((err as Error).message)) return undefined;
    throw err;
  }
}

export async function waitForPhase(name: string, phase: string, timeoutMs = longWaitMs): Promise<Slb> {
  return waitFor(
    async () => {
      const slb = await getSlb(name);
      if (!slb) throw new Error(`${name} does not exist`);
      if (slb.status?.phase === phase) return slb;
      throw new Error(`phase ${slb.status?.phase ?? '(none)'}: ${slb.status?.message ?? ''}`);
    },
    { what: `${name} to be ${phase}`, timeoutMs, intervalMs: 500 },
  );
}

/** The SLB, its Pod and its Service are all gone. */
export async function waitForGone(name: string, timeoutMs = longWaitMs): Promise<void> {
  await waitFor(
    async () => {
      const left = await kubectl([
        'get', 'slb,pods,services', '-n', backendNamespace,
        '--field-selector', `metadata.name=${name}`, '-o', 'name', '--ignore-not-found',
      ]).catch(() => 'error');
      const labelled = await kubectl(['get', 'pods,services', '-n', backendNamespace, '-l', `${LABEL_BACKEND}=${name}`, '-o', 'name']);
      const all = [left, labelled].join('\n').trim();
      if (all) throw new Error(`still there: ${all.split('\n').join(', ')}`);
      return true;
    },
    { what: `${name} and its Pod (and any Service) to be gone`, timeoutMs, intervalMs: 250 },
  );
}

export async function deleteSlb(name: string, wait = false): Promise<void> {
  await kubectl(['delete', 'slb', '-n', backendNamespace, name, '--ignore-not-found', `--wait=${wait}`]);
}

/** Events about an object, oldest first. */
export async function eventsFor(name: string): Promise<{ reason: string; message: string; type: string }[]> {
  const out = JSON.parse(
    await kubectl(['get', 'events', '-n', backendNamespace, '--field-selector', `involvedObject.name=${name}`, '-o', 'json']),
  ) as { items: { reason: string; message: string; type: string }[] };
  return out.items;
}

/** Runs a Node one-liner inside a container of the backend's pod (the sidecar and demo images carry Node). */
export async function nodeEvalIn(pod: string, container: string, script: string): Promise<string> {
  const r = await execa(kubectlPath(), ['exec', '-n', backendNamespace, pod, '-c', container, '--', '/usr/local/bin/node', '-e', script], {
    stdin: 'ignore',
  });
  return r.stdout;
}

/** GET /status on the sidecar's admin port, from inside the pod. */
export async function sidecarStatus(pod: string): Promise<BackendActivity> {
  const out = await nodeEvalIn(
    pod,
    SIDECAR_CONTAINER,
    `fetch('http://127.0.0.1:${SIDECAR_ADMIN_PORT}/status').then((r) => r.text()).then((t) => process.stdout.write(t))`,
  );
  return JSON.parse(out) as BackendActivity;
}

/**
 * A node-mode backend's activity as the sweeper's node observer reads it: the same code, run here (the
 * e2e suite runs on the node; the deployed sweeper reads the same files as user 65532 under hostPID).
 */
export async function nodeActivity(slb: Slb): Promise<BackendActivity> {
  const { podUID, podIP } = slb.status ?? {};
  if (!podUID || !podIP) throw new Error(`${slb.metadata.name} has no status.podUID/podIP`);
  const observer = new NodeObserver({ log: createLogger('e2e', 'silent'), intervalMs: 3_600_000 });
  const handle = observer.observe(slb.metadata.name, { uid: podUID, appPort: 8080, podIPs: [podIP] }, { observation: () => {}, unreachable: () => {} });
  try {
    return await handle.readNow();
  } finally {
    handle.close();
    observer.stop();
  }
}

/** What counts a backend's connections (its sidecar's /status, or the node observer): the same reading. */
export async function activityOf(slb: Slb): Promise<BackendActivity> {
  return slb.status?.activitySource === 'Node' ? nodeActivity(slb) : sidecarStatus(slb.status!.podName!);
}

/** A WebSocket client that keeps every JSON message it receives. */
export function player(url: string) {
  const ws = new WebSocket(url);
  const messages: any[] = [];
  ws.on('message', (data) => messages.push(JSON.parse(data.toString())));
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const closed = new Promise<{ code: number }>((resolve) => ws.once('close', (code) => resolve({ code })));
  const until = (predicate: (m: any) => boolean, from = 0) =>
    waitFor(() => messages.slice(from).find(predicate), { what: 'a matching WebSocket message', timeoutMs: 60_000, intervalMs: 20 });
  return { ws, messages, opened, closed, until };
}

/** Red then yellow join the drop-four game at `url` (its status.url) through nginx; resolves once each knows its colour. */
export async function joinTwoPlayers(url: string) {
  const red = player(wsUrl(url));
  await red.opened;
  await red.until((m) => m.type === 'state' && m.you === 'red');
  const yellow = player(wsUrl(url));
  await yellow.opened;
  await yellow.until((m) => m.type === 'state' && m.you === 'yellow');
  return { red, yellow };
}

/**
 * The WebSocket URL beside a backend's page: `path` relative to its status.url, with the URL's query
 * (the access token) kept, as a first visit's socket would carry it (a browser's carries the cookie).
 */
export function wsUrl(url: string, path = 'ws'): string {
  const target = new URL(path, url);
  target.search = new URL(url).search;
  target.protocol = target.protocol === 'https:' ? 'wss:' : 'ws:';
  return target.toString();
}

let accessKey: AccessKey | undefined;
/**
 * The URL with its access token that the operator would write, minted here from the cluster's key
 * (read from its Secret with the suite's admin credentials): for a backend whose status has no URL yet.
 */
export async function accessUrl(name: string): Promise<string> {
  accessKey ??= parseAccessKey(
    Buffer.from(await kubectl(['get', 'secret', '-n', 'spawner-system', ACCESS_KEY_SECRET, '-o', `jsonpath={.data.${ACCESS_KEY_SECRET_ENTRY}}`]), 'base64'),
  );
  const slb = await getSlb(name);
  if (!slb) throw new Error(`${name} does not exist`);
  return backendUrl(publicBase, name, mintAccessToken(accessKey, { namespace: backendNamespace, name, uid: slb.metadata.uid }));
}

/**
 * GET a Ready backend's URL through nginx. Ready means routable (the route service reads a backend the
 * moment its cache cannot show it Ready), so the first answer must be the app's: a 502 or 503 here is a
 * failure, not something to wait out.
 */
export async function fetchRouted(url: string): Promise<Response> {
  const r = await fetch(url);
  if (r.status === 503 || r.status === 502) {
    throw new Error(`${url} answered ${r.status} (${r.headers.get('x-spawner-waiting') ?? 'no waiting marker'}) although the backend is Ready`);
  }
  return r;
}
