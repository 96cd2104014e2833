// Cold start on the real node, images present: N drop-four backends created at once, then timed
//   create → Ready           (the SLB's status.phase, as a watch sees it)
//   create → first byte      (GET /p/<name>/ through nginx answers 200; polled every 50 ms)
//   delete → Pod gone        (the Pod's DELETED watch event)
// with p50/p99 over the backends, for each N, and where the time goes, from a watch on the Pods with
// millisecond clocks on this side: scheduled (spec.nodeName set), sandbox up (status.podIP set), app
// container running, Pod Ready (probes passed), SLB Ready (status written by the operator).
//
//   node bench/cold-start/run.ts [--n 1,20] [--rounds 3]
//
// Needs KUBECONFIG pointing at a cluster with Spawner deployed (make up, or the e2e suite's cluster).
import { parseArgs } from 'node:util';
import type { KubernetesObject } from '@kubernetes/client-node';
import { API_VERSION, GROUP, KIND, LABEL_BACKEND, PLURAL, VERSION } from '../../common/contract.ts';
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
    'public-url': { type: 'string', default: process.env.SPAWNER_E2E_PUBLIC_URL ?? 'http://localhost:30080' },
  },
});
const sizes = args.n!.split(',').map(Number);
const rounds = Number(args.rounds);
if (sizes.some((n) => !Number.isInteger(n) || n < 1) || !Number.isInteger(rounds) || rounds < 1) {
  throw new Error(`--n takes whole numbers ≥ 1 separated by commas, --rounds a whole number ≥ 1 (got ${args.n}, ${args.rounds})`);
}
const namespace = 'default';
const publicUrl = args['public-url']!.replace(/\/$/, '');
const log = (line: string) => process.stderr.write(`[cold-start] ${line}\n`);
if (!process.env.KUBECONFIG) throw new Error('KUBECONFIG must name a cluster with Spawner deployed (make up)');
const kc = await loadKubeAccess(process.env.KUBECONFIG);
const quiet = createLogger('bench', 'silent');

interface Timeline {
  name: string;
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

async function createOne(runId: string): Promise<Timeline> {
  const body = {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { generateName: 'bench-cold-', labels: { 'spawner.dev/bench': runId } },
    spec: { gracePeriodSeconds: 600, httpPort: 8080, template: { containers: [{ name: 'app', image: args.image, imagePullPolicy: 'IfNotPresent' }] } },
  };
  const created = await requestJson<{ metadata: { name: string } }>(kc, { method: 'POST', path: slbPath, body });
  return { name: created.metadata.name, created: Date.now() };
}

async function firstByte(t: Timeline): Promise<void> {
  const url = `${publicUrl}/p/${t.name}/`;
  for (;;) {
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
    await new Promise((r) => setTimeout(r, 50));
  }
}

type Pod = KubernetesObject & {
  spec?: { nodeName?: string };
  status?: { podIP?: string; containerStatuses?: { name: string; state?: { running?: unknown } }[]; conditions?: { type: string; status: string }[] };
};
type SlbObj = KubernetesObject & { status?: { phase?: string } };

async function round(n: number, runId: string): Promise<Timeline[]> {
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
    if (t && ev.type !== 'delete' && ev.obj.status?.phase === 'Ready') t.slbReady ??= Date.now();
  });
  await Promise.all([podInformer.start(), slbInformer.start()]);
  try {
    // Create all at once; register each timeline before any watch event for it can matter.
    const timelines = await Promise.all(
      Array.from({ length: n }, async () => {
        const t = await createOne(runId);
        byName.set(t.name, t);
        return t;
      }),
    );
    await Promise.all(timelines.map(firstByte));
    await waitFor(() => timelines.every((t) => t.slbReady !== undefined), { what: 'every SLB Ready', timeoutMs: 300_000 });
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

for (const n of sizes) {
  const all: Timeline[] = [];
  for (let r = 0; r < rounds; r++) {
    const runId = `${Date.now().toString(36)}-${r}`;
    log(`${n} backend(s) at once, round ${r + 1}/${rounds}`);
    all.push(...(await round(n, runId)));
  }
  console.log(`\n== ${n} concurrent backend(s), ${rounds} round(s), ${all.length} samples (targets at 20: first byte p50 < 1500 ms, p99 < 3000 ms)`);
  console.log(summary('create → Ready', span(all, 'created', 'slbReady')));
  console.log(summary('create → first byte', span(all, 'created', 'firstByte')));
  console.log(summary('delete → Pod gone', span(all, 'deleteCalled', 'podGone')));
  console.log('where the time goes (watch-observed, from the previous step):');
  console.log(summary('  create → scheduled', span(all, 'created', 'scheduled')));
  console.log(summary('  scheduled → pod IP', span(all, 'scheduled', 'sandbox')));
  console.log(summary('  pod IP → app running', span(all, 'sandbox', 'running')));
  console.log(summary('  app running → Pod Ready', span(all, 'running', 'podReady')));
  console.log(summary('  Pod Ready → SLB Ready', span(all, 'podReady', 'slbReady')));
  console.log(summary('  SLB Ready → first byte', span(all, 'slbReady', 'firstByte')));
}
process.exit(0);
