// How long the first request to a new backend takes to route when thousands exist (decision B: no
// Service, DNS name or kube-proxy rule on the path; the route service answers nginx's auth_request from
// its informer cache, or with one fresh read for a valid token the cache cannot show routable yet).
//
// With N backends Ready in one namespace, the route service (router/, run as its image runs it) is
// started on that namespace and asked, as nginx would ask it:
//   - for existing backends picked at random: the answer time of a cache hit among N entries;
//   - for new backends created one at a time, the instant the benchmark's own watch sees them Ready: the
//     answer (it must be "route"), its time, and whether the cache had caught up or a fresh read was made.
// Also the route service's RSS with N entries cached.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import path from 'node:path';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION } from '../../common/contract.ts';
import { createInformer } from '../../common/kube/informer.ts';
import { requestJson } from '../../common/kube/rest.ts';
import { memoryLogger } from '../../common/kube/testing/memlog.ts';
import { mintAccessToken, parseAccessKey, type AccessKey } from '../../common/spawner/access.ts';
import { waitFor } from '../../e2e/harness/kube.ts';
import { freePorts } from '../../e2e/harness/net.ts';
import { repoRoot } from '../../e2e/harness/paths.ts';
import { entrypoint, MAIN, NODE, nodeImage } from '../../images/node-images.ts';
import { slbManifest, type Slb } from '../../operator/test/support/slbs.ts';
import { percentile, spread } from './stats.ts';

export interface RouteLookupResult {
  n: number; // backends cached
  routerRssMb: number;
  syncMs: number; // start → /readyz (first list of N backends)
  hitMs: number[]; // answer times, existing Ready backends
  firstMs: number[]; // answer times, new backends asked the instant they were seen Ready
  firstVerdicts: Record<string, number>; // verdict of those first answers
  firstFromCache: number; // of them, answered from the cache (the rest needed a fresh read)
}

interface Router {
  proc: ChildProcess;
  port: number;
  healthPort: number;
  logFile: string;
}

function stageRouter(dir: string, fromSource: boolean): { main: string; nodeArgs: string[] } {
  if (fromSource) return { main: path.join(repoRoot, 'router/src/main.ts'), nodeArgs: [] };
  const image = nodeImage('router');
  const dest = path.join(dir, 'router-image');
  const staged = spawnSync('bash', [path.join(repoRoot, 'images/stage-app.sh'), image.workspace, image.entry, dest], { stdio: 'inherit' });
  if (staged.status !== 0) throw new Error(`images/stage-app.sh router failed (status ${staged.status})`);
  return { main: path.join(dest, MAIN), nodeArgs: entrypoint('router').filter((a) => a !== NODE && a !== MAIN) };
}

async function startRouter(o: { dir: string; kubeconfig: string; namespace: string; keyFile: string; fromSource: boolean }): Promise<Router> {
  const { main, nodeArgs } = stageRouter(o.dir, o.fromSource);
  const [port, healthPort] = (await freePorts(2)) as [number, number];
  const logFile = path.join(o.dir, 'router.log');
  const fd = openSync(logFile, 'a');
  let proc: ChildProcess;
  try {
    proc = spawn(process.execPath, [
      ...nodeArgs, main, `--kubeconfig=${o.kubeconfig}`, `--namespace=${o.namespace}`, `--access-key-file=${o.keyFile}`,
      `--port=${port}`, `--health-port=${healthPort}`, '--listen-host=127.0.0.1', '--shutdown-delay-seconds=0', '--log-level=warn',
    ], { stdio: ['ignore', fd, fd], env: { ...process.env, KUBECONFIG: '' } });
  } finally {
    closeSync(fd);
  }
  return { proc, port, healthPort, logFile };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

// One auth_request as nginx sends it (manifests/nginx): the name, the URI after /p/<name> with the token.
function ask(port: number, name: string, token: string): Promise<{ status: number; verdict: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port, path: '/route', agent,
      headers: { 'x-spawner-name': name, 'x-spawner-rest': `/?token=${token}`, 'x-spawner-upgrade': '', 'x-spawner-scheme': 'http' },
    }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, verdict: String(res.headers['x-spawner-verdict'] ?? ''), ms: performance.now() - started }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function answersFromCache(healthPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
  let n = 0;
  for (const line of text.split('\n')) if (line.startsWith('spawner_router_answers_total{') && line.includes('source="cache"')) n += Number(line.split(' ').pop());
  return n;
}

function rssMb(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? Number.NaN) / 1024;
}

export async function measureRouteLookup(o: {
  kc: KubeConfig;
  kubeconfigFile: string; // admin: the route service only reads backends
  namespace: string;
  backends: Slb[]; // the N Ready backends already there
  newBackends: number;
  hits: number;
  dir: string;
  fromSource: boolean;
  log: (line: string) => void;
}): Promise<RouteLookupResult> {
  const keyFile = path.join(o.dir, 'access-key');
  writeFileSync(keyFile, randomBytes(32), { mode: 0o600 });
  const key: AccessKey = parseAccessKey(readFileSync(keyFile));
  const token = (name: string, uid: string) => mintAccessToken(key, { namespace: o.namespace, name, uid });
  const startedAt = performance.now();
  const router = await startRouter({ dir: o.dir, kubeconfig: o.kubeconfigFile, namespace: o.namespace, keyFile, fromSource: o.fromSource });
  try {
    await waitFor(async () => (await fetch(`http://127.0.0.1:${router.port}/readyz`)).status === 200 || undefined, {
      what: 'the route service to cache the backends', timeoutMs: 300_000, intervalMs: 50,
      failFast: () => (router.proc.exitCode !== null ? `route service exited; log:\n${readFileSync(router.logFile, 'utf8').slice(-2000)}` : undefined),
    });
    const syncMs = performance.now() - startedAt;
    const routerRssMb = rssMb(router.proc.pid!);

    // Cache hits among N entries.
    const hitMs: number[] = [];
    for (let i = 0; i < o.hits; i++) {
      const b = o.backends[Math.floor(Math.random() * o.backends.length)]!;
      const a = await ask(router.port, b.metadata.name!, token(b.metadata.name!, b.metadata.uid!));
      if (a.verdict !== 'route') throw new Error(`route service answered ${a.status} ${a.verdict} for Ready backend ${b.metadata.name}`);
      hitMs.push(a.ms);
    }

    // New backends, one at a time, asked for the instant they are seen Ready.
    const { log: quiet } = memoryLogger();
    const watch = createInformer<KubernetesObject>({ kubeConfig: o.kc, path: `/apis/${GROUP}/${VERSION}/namespaces/${o.namespace}/${PLURAL}`, labelSelector: 'bench.spawner.dev/route-probe=true', log: quiet });
    let onReady: ((slb: Slb) => void) | undefined;
    watch.onEvent((ev) => {
      const slb = ev.obj as Slb;
      if (ev.type !== 'delete' && slb.status?.phase === 'Ready') onReady?.(slb);
    });
    await watch.start();
    const firstMs: number[] = [];
    const firstVerdicts: Record<string, number> = {};
    let firstFromCache = 0;
    const base = `/apis/${GROUP}/${VERSION}/namespaces/${o.namespace}/${PLURAL}`;
    const created: string[] = [];
    try {
      for (let i = 0; i < o.newBackends; i++) {
        const name = `route-probe-${i}`;
        const body = slbManifest(o.namespace, name, { spec: { startupTimeoutSeconds: 86_400 } });
        body.metadata.labels = { 'bench.spawner.dev/route-probe': 'true' };
        const ready = new Promise<Slb>((resolve) => {
          onReady = (slb) => {
            if (slb.metadata.name === name) {
              onReady = undefined;
              resolve(slb);
            }
          };
        });
        await requestJson(o.kc, { method: 'POST', path: base, body });
        created.push(name);
        const slb = await ready;
        const cacheBefore = await answersFromCache(router.healthPort);
        const a = await ask(router.port, name, token(name, slb.metadata.uid!));
        if ((await answersFromCache(router.healthPort)) > cacheBefore) firstFromCache++;
        firstMs.push(a.ms);
        firstVerdicts[a.verdict] = (firstVerdicts[a.verdict] ?? 0) + 1;
      }
    } finally {
      watch.stop();
      for (const name of created) await requestJson(o.kc, { method: 'DELETE', path: `${base}/${name}` }).catch(() => undefined);
    }
    return { n: o.backends.length, routerRssMb, syncMs, hitMs, firstMs, firstVerdicts, firstFromCache };
  } finally {
    router.proc.kill('SIGTERM');
  }
}

export function formatRouteLookup(r: RouteLookupResult): string {
  const ms = (v: number[]) => `p50 ${percentile(v, 50).toFixed(2)} ms, p99 ${percentile(v, 99).toFixed(2)} ms, max ${Math.max(...v).toFixed(2)} ms`;
  return [
    `route service with ${r.n} backends cached (decision B: the first request's routing is this answer; no Service, DNS or kube-proxy)`,
    `  first list and ready in ${(r.syncMs / 1000).toFixed(2)} s; RSS ${r.routerRssMb.toFixed(0)} MB`,
    `  cache hit, existing backend (${r.hitMs.length} asks)       ${ms(r.hitMs)}`,
    `  first ask the instant a new backend was seen Ready (${r.firstMs.length}): ${ms(r.firstMs)}; answers ${JSON.stringify(r.firstVerdicts)}, ` +
      `${r.firstFromCache} from the cache, ${r.firstMs.length - r.firstFromCache} after a fresh read; median ${spread(r.firstMs, 2)} ms`,
  ].join('\n');
}
