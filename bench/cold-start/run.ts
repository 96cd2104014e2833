// Cold start on the real node, images present: N drop-four backends created at once, then timed
//   create → Ready           (the SLB's status.phase, as a watch sees it)
//   create → first byte      (GET /p/<name>/ through nginx answers 200; polled every 50 ms — far more
//                             often than the waiting page, which asks after 0.25, 0.55, 0.91, 1.34 s …:
//                             this measures when the system can answer, not when a page would ask)
//   delete → Pod gone        (the Pod's DELETED watch event)
// with p50/p99 over the backends, for each N, and where the time goes, from a watch on the Pods with
// millisecond clocks on this side: scheduled (spec.nodeName set), sandbox up (status.podIP set), app
// container running, Pod Ready (probes passed), SLB Ready (status written by the operator). In node mode
// the route service routes a starting backend once its app listens (router/README.md), so the first
// byte may come before Ready: "before Ready" counts those, "app running → first byte" shows the lag.
// Both ways of counting connections in one run, interleaved round by round (the order alternates):
// node (spec.sidecar.enabled unset: the deployed default, checked in status.activitySource) and
// sidecar (spec.sidecar.enabled: true); then the ratio sidecar ÷ node of each round's p50, median and
// range over the rounds.
//
//   node bench/cold-start/run.ts [--n 1,20] [--rounds 3] [--modes node,sidecar] [--namespace spawner-backends]
//                                [--link create|status] [--poll 50|page]
//
// --link create (default): the client holds its link from the moment the create returns, as the HTTP
// API's POST /init answers it (the invitation URL, minted here with the cluster key read from the Secret
// spawner-system/spawner-access-key) — a browser sent there sees the waiting page until the route
// service routes it. --link status: the client waits for status.url, which the operator writes with
// Ready, and polls the bare /p/<name>/ (answered 404) until then.
// --poll 50 (default): a GET every 50 ms after the previous answer — when the system can answer, and far
// more often than a user's waiting page. --poll page: on manifests/nginx/waiting.html's schedule (after
// 0.25 s, then ×1.2, at most 10 s), i.e. when a user would see it, and the API reads a page costs.
//
// Needs KUBECONFIG pointing at a cluster with Spawner deployed (make up, or the e2e suite's cluster).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { KubernetesObject } from '@kubernetes/client-node';
import { API_VERSION, GROUP, KIND, LABEL_BACKEND, PLURAL, VERSION } from '../../common/contract.ts';
import { invitationUrl, parseAccessKey, type AccessKey } from '../../common/spawner/access.ts';
import { createInformer } from '../../common/kube/informer.ts';
import { loadKubeAccess } from '../../common/kube/kubeconfig.ts';
import { requestJson } from '../../common/kube/rest.ts';
import { createLogger } from '../../common/log.ts';
import { waitFor } from '../../e2e/harness/wait.ts';

const { values: args } = parseArgs({
  options: {
    n: { type: 'string', default: '1,20' },
    rounds: { type: 'string', default: '3' },
    image: { type: 'string', default: 'localhost/spawner/drop-four:0.1.0' },
    modes: { type: 'string', default: 'node,sidecar' },
    namespace: { type: 'string', default: 'spawner-backends' },
    link: { type: 'string', default: 'create' },
    poll: { type: 'string', default: '50' },
    'public-url': { type: 'string', default: process.env.SPAWNER_E2E_PUBLIC_URL ?? 'http://localhost:30080' },
  },
});
const sizes = args.n!.split(',').map(Number);
const rounds = Number(args.rounds);
if (sizes.some((n) => !Number.isInteger(n) || n < 1) || !Number.isInteger(rounds) || rounds < 1) {
  throw new Error(`--n takes whole numbers ≥ 1 separated by commas, --rounds a whole number ≥ 1 (got ${args.n}, ${args.rounds})`);
}
type Mode = 'node' | 'sidecar';
const modes = args.modes!.split(',') as Mode[];
if (modes.length === 0 || modes.some((m) => m !== 'node' && m !== 'sidecar')) throw new Error(`--modes takes node and/or sidecar (got ${args.modes})`);
const namespace = args.namespace!;
if (args.link !== 'create' && args.link !== 'status') throw new Error(`--link takes create or status (got ${args.link})`);
if (args.poll !== 'page' && !(Number(args.poll) > 0)) throw new Error(`--poll takes a number of milliseconds or page (got ${args.poll})`);
// The delay before the next GET, after `polls` of them.
const WAITING_PAGE = { firstMs: 250, growth: 1.2, maxMs: 10_000 }; // manifests/nginx/waiting.html
const pollDelay = (polls: number): number =>
  args.poll === 'page' ? Math.min(WAITING_PAGE.firstMs * WAITING_PAGE.growth ** polls, WAITING_PAGE.maxMs) : Number(args.poll);
const publicUrl = args['public-url']!.replace(/\/$/, '');
const log = (line: string) => process.stderr.write(`[cold-start] ${line}\n`);
if (!process.env.KUBECONFIG) throw new Error('KUBECONFIG must name a cluster with Spawner deployed (make up)');
const kc = await loadKubeAccess(process.env.KUBECONFIG);
const quiet = createLogger('bench', 'silent');
// With --link create: the key the operator mints invitation URLs with.
let accessKey: AccessKey | undefined;
if (args.link === 'create') {
  const secret = await requestJson<{ data?: { key?: string } }>(kc, { path: '/api/v1/namespaces/spawner-system/secrets/spawner-access-key' });
  if (!secret.data?.key) throw new Error('Secret spawner-system/spawner-access-key has no entry key (is Spawner deployed?)');
  accessKey = parseAccessKey(Buffer.from(secret.data.key, 'base64'));
}

interface Timeline {
  name: string;
  url?: string; // status.url once written (it may carry an access token)
  activitySource?: string;
  created: number; // when the create call returned
  scheduled?: number;
  sandbox?: number;
  running?: number;
  podReady?: number;
  slbReady?: number;
  firstByte?: number;
  deleteCalled?: number;
  podGone?: number;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const slbPath = `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`;

async function createOne(runId: string, mode: Mode): Promise<Timeline> {
  const body = {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { generateName: 'bench-cold-', labels: { 'spawner.dev/bench': runId } },
    spec: {
      gracePeriodSeconds: 600,
      httpPort: 8080,
      ...(mode === 'sidecar' ? { sidecar: { enabled: true } } : {}),
      template: { containers: [{ name: 'app', image: args.image, imagePullPolicy: 'IfNotPresent' }] },
    },
  };
  const created = await requestJson<{ metadata: { name: string; namespace: string; uid: string } }>(kc, { method: 'POST', path: slbPath, body });
  const t: Timeline = { name: created.metadata.name, created: Date.now() };
  if (accessKey) t.url = invitationUrl(created, publicUrl, accessKey);
  return t;
}

async function firstByte(t: Timeline): Promise<void> {
  for (let polls = 0; ; polls++) {
    const url = t.url ?? `${publicUrl}/p/${t.name}/`;
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(5000) });
      await r.arrayBuffer();
      if (r.status === 200) {
        t.firstByte = Date.now();
        return;
      }
    } catch {
      /* not yet */
    }
    if (Date.now() - t.created > 300_000) throw new Error(`${t.name}: no 200 through nginx within 300 s`);
    await new Promise((r) => setTimeout(r, pollDelay(polls)));
  }
}

type Pod = KubernetesObject & {
  spec?: { nodeName?: string };
  status?: { podIP?: string; containerStatuses?: { name: string; state?: { running?: unknown } }[]; conditions?: { type: string; status: string }[] };
};
type SlbObj = KubernetesObject & { status?: { phase?: string; url?: string; activitySource?: string } };

async function round(n: number, runId: string, mode: Mode): Promise<Timeline[]> {
  const byName = new Map<string, Timeline>();
  const seen = (name: string | undefined) => (name ? byName.get(name) : undefined);
  const podInformer = createInformer<Pod>({
    kubeConfig: kc,
    path: `/api/v1/namespaces/${namespace}/pods`,
    labelSelector: LABEL_BACKEND,
    log: quiet,
  });
  const slbInformer = createInformer<SlbObj>({ kubeConfig: kc, path: slbPath, labelSelector: `spawner.dev/bench=${runId}`, log: quiet });
  podInformer.onEvent((ev) => {
    const now = Date.now();
    const t = seen(ev.obj.metadata?.labels?.[LABEL_BACKEND]);
    if (!t) return;
    if (ev.type === 'delete') {
      t.podGone ??= now;
      return;
    }
    const pod = ev.obj;
    if (pod.spec?.nodeName) t.scheduled ??= now;
    if (pod.status?.podIP) t.sandbox ??= now;
    if (pod.status?.containerStatuses?.find((c) => c.name === 'app')?.state?.running) t.running ??= now;
    if (pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) t.podReady ??= now;
  });
  slbInformer.onEvent((ev) => {
    const t = seen(ev.obj.metadata?.name);
    if (!t || ev.type === 'delete') return;
    if (ev.obj.status?.url) t.url ??= ev.obj.status.url;
    if (ev.obj.status?.activitySource) t.activitySource ??= ev.obj.status.activitySource;
    if (ev.obj.status?.phase === 'Ready') t.slbReady ??= Date.now();
  });
  await Promise.all([podInformer.start(), slbInformer.start()]);
  try {
    // Create all at once; register each timeline before any watch event for it can matter.
    const timelines = await Promise.all(
      Array.from({ length: n }, async () => {
        const t = await createOne(runId, mode);
        byName.set(t.name, t);
        return t;
      }),
    );
    await Promise.all(timelines.map(firstByte));
    await waitFor(() => timelines.every((t) => t.slbReady !== undefined), { what: 'every SLB Ready', timeoutMs: 300_000 });
    const wrong = timelines.filter((t) => t.activitySource !== (mode === 'node' ? 'Node' : 'Sidecar'));
    if (wrong.length > 0) throw new Error(`${wrong.length} backend(s) of the ${mode} round got activitySource ${wrong[0]!.activitySource} (is the operator deployed with --activity-source=node?)`);
    await Promise.all(
      timelines.map(async (t) => {
        t.deleteCalled = Date.now();
        await requestJson(kc, { method: 'DELETE', path: `${slbPath}/${t.name}` });
      }),
    );
    await waitFor(() => timelines.every((t) => t.podGone !== undefined), { what: 'every Pod gone', timeoutMs: 300_000 });
    return timelines;
  } finally {
    podInformer.stop();
    slbInformer.stop();
  }
}

const ms = (v: number) => (Number.isFinite(v) ? `${Math.round(v)} ms` : 'n/a');
function summary(label: string, values: number[]): string {
  return `${label.padEnd(26)} p50 ${ms(percentile(values, 50)).padStart(8)}   p99 ${ms(percentile(values, 99)).padStart(8)}   max ${ms(Math.max(...values)).padStart(8)}`;
}
const span = (ts: Timeline[], from: keyof Timeline, to: keyof Timeline) =>
  ts.filter((t) => typeof t[from] === 'number' && typeof t[to] === 'number').map((t) => (t[to] as number) - (t[from] as number));

const median = (values: number[]) => percentile(values, 50);
const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

for (const n of sizes) {
  const all = new Map<Mode, Timeline[]>(modes.map((m) => [m, []]));
  const perRound = new Map<Mode, { ready: number[]; firstByte: number[] }>(modes.map((m) => [m, { ready: [], firstByte: [] }]));
  const loadBefore = load();
  for (let r = 0; r < rounds; r++) {
    // Alternate the order so neither mode always runs on the warmer (or busier) machine.
    const order = r % 2 === 0 ? modes : [...modes].reverse();
    for (const mode of order) {
      const runId = `${Date.now().toString(36)}-${r}-${mode}`;
      log(`${n} backend(s) at once, ${mode} mode, round ${r + 1}/${rounds} (load ${load()})`);
      const ts = await round(n, runId, mode);
      all.get(mode)!.push(...ts);
      perRound.get(mode)!.ready.push(median(span(ts, 'created', 'slbReady')));
      perRound.get(mode)!.firstByte.push(median(span(ts, 'created', 'firstByte')));
    }
  }
  const linkNote = `${args.link === 'create' ? 'link held from the create (as POST /init gives it)' : 'link from status.url (written with Ready)'}, ${args.poll === 'page' ? "polled on the waiting page's schedule" : `polled every ${args.poll} ms`}`;
  console.log(`\n== ${n} concurrent backend(s), ${rounds} round(s) per mode, interleaved; ${linkNote}; load average ${loadBefore} → ${load()}`);
  for (const mode of modes) {
    const ts = all.get(mode)!;
    console.log(`-- ${mode} mode (${ts.length} samples)`);
    console.log(summary('create → Ready', span(ts, 'created', 'slbReady')));
    console.log(summary('create → first byte', span(ts, 'created', 'firstByte')));
    console.log(summary('delete → Pod gone', span(ts, 'deleteCalled', 'podGone')));
    console.log('where the time goes (watch-observed, from the previous step):');
    console.log(summary('  create → scheduled', span(ts, 'created', 'scheduled')));
    console.log(summary('  scheduled → pod IP', span(ts, 'scheduled', 'sandbox')));
    console.log(summary('  pod IP → app running', span(ts, 'sandbox', 'running')));
    console.log(summary('  app running → Pod Ready', span(ts, 'running', 'podReady')));
    console.log(summary('  Pod Ready → SLB Ready', span(ts, 'podReady', 'slbReady')));
    console.log(summary('  SLB Ready → first byte', span(ts, 'slbReady', 'firstByte')));
    const early = ts.filter((t) => t.firstByte !== undefined && t.slbReady !== undefined && t.firstByte < t.slbReady).length;
    console.log(summary('app running → first byte', span(ts, 'running', 'firstByte')));
    console.log(`first byte before SLB Ready (routed once listening): ${early} of ${ts.length}`);
  }
  if (modes.includes('node') && modes.includes('sidecar')) {
    for (const [label, key] of [['create → Ready', 'ready'], ['create → first byte', 'firstByte']] as const) {
      const ratios = perRound.get('sidecar')![key].map((v, i) => v / perRound.get('node')![key][i]!);
      console.log(
        `sidecar ÷ node, ${label} p50 per round: median ${median(ratios).toFixed(2)}× (range ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}; ${ratios.map((x) => x.toFixed(2)).join(', ')})`,
      );
    }
  }
}
process.exit(0);
