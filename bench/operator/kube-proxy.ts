// What a ClusterIP Service per backend would cost on the path of the first request, measured on the real
// node's kube-proxy (iptables mode) and CoreDNS with a few hundred such Services: the shape decision B
// (route service → podIP:port) avoids. Uses the one real node, so it runs under its lock:
//
//   flock /tmp/spawner-real-node.lock node bench/operator/kube-proxy.ts [--services 100,200,400] [--probes 10]
//
// It brings up a cluster of its own with the real node (state in SPAWNER_CLUSTER_STATE) and kwok nodes
// for the backends' Pods (kube-proxy programs their fake addresses like any other), and takes it down at
// the end. At each level L (L Services, each with a Ready Pod behind it), it adds `--probes` more one at
// a time and reads, for each:
//   - kube-proxy's own network programming latency (kubeproxy_network_programming_duration_seconds: from
//     the Pod turning Ready, as the EndpointSlice records it, to the rules being in place), i.e. how long
//     after Ready a request to the ClusterIP would still go nowhere;
//   - kube-proxy's rule sync time at L Services (kubeproxy_sync_proxy_rules_duration_seconds and its full
//     and partial variants), and the size of its nat table;
//   - CoreDNS: from the Service's create answered until <name>.<namespace>.svc answers an A record.
import { Resolver } from 'node:dns/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { KubernetesObject, V1Pod } from '@kubernetes/client-node';
import { createInformer } from '../../common/kube/informer.ts';
import { requestJson } from '../../common/kube/rest.ts';
import { memoryLogger } from '../../common/kube/testing/memlog.ts';
import { down, kwokNodeLabel, up } from '../../e2e/harness/cluster.ts';
import { apiClients, loadKubeConfig, waitFor } from '../../e2e/harness/kube.ts';
import { defaultLayout, fakeNodeTaint } from '../../e2e/harness/node-config.ts';
import { repoRoot } from '../../e2e/harness/paths.ts';
import { createNamespace } from '../../operator/test/support/operator-process.ts';
import { podFor, podReady, serviceFor } from './baseline.ts';
import { parseSamples } from './apiserver-metrics.ts';
import { percentile, runPool, spread } from './stats.ts';

const { values: args } = parseArgs({
  options: {
    services: { type: 'string', default: '100,200,400' },
    probes: { type: 'string', default: '10' },
    parallel: { type: 'string', default: '16' },
    'keep-cluster': { type: 'boolean', default: false },
  },
});
const levels = args.services!.split(',').map((x) => Number(x.trim()));
if (levels.some((n) => !Number.isInteger(n) || n < 0)) throw new Error(`--services: whole numbers separated by commas, got '${args.services}'`);
const probes = Number(args.probes);
const log = (line: string) => process.stderr.write(`[kube-proxy] ${line}\n`);

const proxyMetricsUrl = `http://127.0.0.1:${defaultLayout.kubeProxyMetricsPort}/metrics`;
const HISTOGRAMS = [
  'kubeproxy_network_programming_duration_seconds',
  'kubeproxy_sync_proxy_rules_duration_seconds',
  'kubeproxy_sync_full_proxy_rules_duration_seconds',
  'kubeproxy_sync_partial_proxy_rules_duration_seconds',
];

async function proxyMetrics(): Promise<string> {
  return (await fetch(proxyMetricsUrl)).text();
}

function histogramDelta(before: string, after: string, name: string): { count: number; sumS: number } {
  const read = (text: string) => {
    const s = parseSamples(text, [`${name}_sum`, `${name}_count`]);
    return { sum: s.filter((x) => x.name === `${name}_sum`).reduce((n, x) => n + x.value, 0), count: s.filter((x) => x.name === `${name}_count`).reduce((n, x) => n + x.value, 0) };
  };
  const a = read(before);
  const b = read(after);
  return { count: b.count - a.count, sumS: b.sum - a.sum };
}

function natRules(text: string): number {
  const line = text.split('\n').find((l) => l.startsWith('kubeproxy_sync_proxy_rules_iptables_total{') && l.includes('table="nat"'));
  return line ? Number(line.trim().split(/\s+/).pop()) : Number.NaN;
}

interface Level {
  services: number;
  programmingMs: number[]; // per probe: Ready → rules in place (kube-proxy's own measure)
  syncMs: number[]; // mean sync during each probe
  dnsMs: number[]; // per probe: Service created → A record answered
  natRules: number;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the real node needs root');
  const stateFile = process.env.SPAWNER_CLUSTER_STATE ?? path.join(repoRoot, '.cache/cluster/bench-kube-proxy.json');
  const info = await up({ stateFile, realNode: true, nodes: 2, log });
  const results: Level[] = [];
  try {
    const kc = loadKubeConfig(info.kubeconfig);
    const { core } = apiClients(kc);
    const namespace = await createNamespace(core, 'kube-proxy');
    const resolver = new Resolver({ timeout: 200, tries: 1 });
    resolver.setServers([defaultLayout.nodeIP]);
    const readyAt = new Map<string, number>();
    const { log: quiet } = memoryLogger();
    const pods = createInformer<KubernetesObject>({ kubeConfig: kc, path: `/api/v1/namespaces/${namespace}/pods`, log: quiet });
    pods.onEvent((ev) => {
      if (ev.type !== 'delete' && podReady(ev.obj as V1Pod) && !readyAt.has(ev.obj.metadata!.name!)) readyAt.set(ev.obj.metadata!.name!, performance.now());
    });
    await pods.start();
    const make = async (name: string) => {
      const pod = podFor(namespace, name, 'clusterip');
      // On the kwok nodes (tainted once a real node has joined): kube-proxy programs their addresses all
      // the same, and the real node runs nothing.
      pod.spec = { ...pod.spec!, nodeSelector: { [kwokNodeLabel]: 'kwok' }, tolerations: [{ key: fakeNodeTaint.key, operator: 'Exists', effect: 'NoSchedule' }] };
      await requestJson(kc, { method: 'POST', path: `/api/v1/namespaces/${namespace}/pods`, body: pod });
      await requestJson(kc, { method: 'POST', path: `/api/v1/namespaces/${namespace}/services`, body: serviceFor(namespace, name, 'clusterip') });
    };
    let made = 0;
    for (const level of levels) {
      const names = Array.from({ length: level - made }, (_, i) => `s-${made + i}`);
      await runPool(names, Number(args.parallel), make);
      made = level;
      await waitFor(() => readyAt.size >= made || undefined, { what: `${made} Pods Ready`, timeoutMs: 600_000, onProgress: log });
      // Let kube-proxy catch up with the batch before the probes.
      await sleep(12_000);
      const r: Level = { services: level, programmingMs: [], syncMs: [], dnsMs: [], natRules: Number.NaN };
      for (let i = 0; i < probes; i++) {
        const name = `p-${level}-${i}`;
        const before = await proxyMetrics();
        const t0 = performance.now();
        await make(name);
        const created = performance.now();
        // DNS: the Service's name answers once CoreDNS's watch has it.
        const dnsAt = await waitFor(async () => {
          try {
            const a = await resolver.resolve4(`${name}.${namespace}.svc.${defaultLayout.clusterDomain}`);
            return a.length ? performance.now() : undefined;
          } catch {
            return undefined;
          }
        }, { what: `DNS for ${name}`, timeoutMs: 60_000, intervalMs: 5 });
        r.dnsMs.push(dnsAt - created);
        await waitFor(() => readyAt.has(name) || undefined, { what: `${name} Ready`, timeoutMs: 120_000, intervalMs: 10 });
        // kube-proxy's own record of this change: wait until a programming sample arrives.
        const after = await waitFor(async () => {
          const text = await proxyMetrics();
          return histogramDelta(before, text, HISTOGRAMS[0]!).count > 0 ? text : undefined;
        }, { what: `kube-proxy to program ${name}`, timeoutMs: 120_000, intervalMs: 50 });
        const prog = histogramDelta(before, after, HISTOGRAMS[0]!);
        r.programmingMs.push((prog.sumS / prog.count) * 1000);
        const sync = histogramDelta(before, after, HISTOGRAMS[1]!);
        if (sync.count) r.syncMs.push((sync.sumS / sync.count) * 1000);
        r.natRules = natRules(after);
        log(`L=${level} probe ${i}: DNS ${(dnsAt - created).toFixed(0)} ms after create (create took ${(created - t0).toFixed(0)} ms), programmed ${r.programmingMs.at(-1)!.toFixed(0)} ms after Ready, sync ${r.syncMs.at(-1)?.toFixed(0) ?? '-'} ms`);
      }
      made += probes;
      results.push(r);
    }
    pods.stop();
  } finally {
    if (!args['keep-cluster']) await down({ stateFile, log });
  }
  process.stdout.write(`\n== ClusterIP Service per backend on the real node (kube-proxy iptables, CoreDNS); load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} ==\n`);
  process.stdout.write('Services   Ready → kube-proxy rules in place (ms)    rule sync (ms)    nat rules    create → DNS answer (ms)\n');
  for (const r of results) {
    process.stdout.write(
      `${String(r.services).padStart(8)}   ${`${spread(r.programmingMs)} p99 ${percentile(r.programmingMs, 99).toFixed(0)}`.padEnd(38)} ${spread(r.syncMs).padStart(14)}   ${String(r.natRules).padStart(10)}    ${spread(r.dnsMs)}\n`,
    );
  }
  process.stdout.write('(medians (min–max) over the probes; with decision B none of this is on the first request\'s path)\n');
}

await main();
