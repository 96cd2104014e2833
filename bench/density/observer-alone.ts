// The node observer alone over many backends: N network namespaces made here (sweeper/test/support/
// netns-lab.ts), each with a "sandbox" process in a cgroup named as the kubelet names a Pod's and an app
// listening on :8080 (one small C process holds every listener, bench/density/listeners.c, so the apps
// cost nothing worth measuring), followed by the observer as its own unprivileged process, run as the
// sweeper's image runs its code (compiled JavaScript, the image's Node flags; --from-source: the
// TypeScript by type stripping). Printed: its
// CPU (% of one core) and RSS over the window, and how often it read what, first with the backends
// idle, then with each one probed over TCP from the node every --probe-period-s (the kubelet's
// readiness probe; 10 s is what the operator gives a node-mode backend), then with each one holding a
// connection from a peer namespace (read every --active-interval-ms instead of every --interval-ms).
//
//   node bench/density/observer-alone.ts [--n 200] [--seconds 60] [--interval-ms 1000] [--active-interval-ms 250] [--probe-period-s 10]
//                                        [--child-ehash 0] [--from-source]
// --child-ehash N: set net.ipv4.tcp_child_ehash_entries=N while the namespaces are made (each then has a
// TCP hash of its own, as on a node configured so; restored afterwards). Needs root.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { COMMON_ARGS, nodeImage } from '../../images/node-images.ts';
import { startListeners } from './listeners.ts';
import { NetnsLab, requireRoot, UNPRIVILEGED_UID } from '../../sweeper/test/support/netns-lab.ts';

const { values: args } = parseArgs({
  options: {
    n: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '60' },
    'interval-ms': { type: 'string', default: '1000' },
    'active-interval-ms': { type: 'string', default: '250' },
    'probe-period-s': { type: 'string', default: '10' },
    'child-ehash': { type: 'string', default: '0' },
    'from-source': { type: 'boolean', default: false },
  },
});
const N = Number(args.n);
const SECONDS = Number(args.seconds);
const INTERVAL_MS = Number(args['interval-ms']);
const ACTIVE_INTERVAL_MS = Number(args['active-interval-ms']);
const PROBE_PERIOD_S = Number(args['probe-period-s']);
const CHILD_EHASH = Number(args['child-ehash']);
if (!Number.isInteger(N) || N < 1 || N > 252) throw new Error('--n: 1 to 252 (one lab subnet, and the peer)');
requireRoot();

const here = import.meta.dirname;
const repoRoot = path.resolve(here, '../..');
const log = (line: string) => process.stderr.write(`[observer-alone] ${line}\n`);
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

// The observer's code as the sweeper image has it (images/stage-app.sh), plus this benchmark's driver
// compiled the same way; returns the Node arguments that run it.
function observerCommand(): string[] {
  const driver = 'bench/density/observer-process.ts';
  if (args['from-source']) return ['--no-warnings', path.join(repoRoot, driver)];
  const dest = mkdtempSync(path.join(os.tmpdir(), 'observer-image-'));
  const image = nodeImage('sweeper');
  execFileSync('bash', [path.join(repoRoot, 'images/stage-app.sh'), image.workspace, image.entry, dest], { stdio: ['ignore', 'ignore', 'inherit'] });
  execFileSync(process.execPath, ['--disable-warning=ExperimentalWarning', path.join(repoRoot, 'images/compile.ts'), repoRoot, path.join(dest, 'app'), driver]);
  chmodSync(dest, 0o755);
  execFileSync('chmod', ['-R', 'a+rX', dest]);
  return [...COMMON_ARGS, ...image.nodeArgs, path.join(dest, 'app', driver.replace(/\.ts$/, '.js'))];
}
const observerArgs = observerCommand();

async function measure(pods: Array<{ uid: string; ip: string }>, label: string): Promise<Record<string, number>> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'observer-alone-'));
  chmodSync(dir, 0o755);
  const file = path.join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ pods, appPort: 8080, intervalMs: INTERVAL_MS, activeIntervalMs: ACTIVE_INTERVAL_MS, warmupSeconds: 5, seconds: SECONDS }), { mode: 0o644 });
  log(`${label}: observing ${pods.length} backends for ${SECONDS} s (load ${loadavg()})`);
  const child = spawn(
    'setpriv',
    [`--reuid=${UNPRIVILEGED_UID}`, `--regid=${UNPRIVILEGED_UID}`, '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--', process.execPath, ...observerArgs, file],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`observer process exited ${code}`);
  return JSON.parse(out.trim().split('\n').pop()!) as Record<string, number>;
}

function probeLoop(ips: string[], periodS: number): () => void {
  let stopped = false;
  const gap = (periodS * 1000) / ips.length;
  let i = 0;
  const next = () => {
    if (stopped) return;
    const ip = ips[i++ % ips.length]!;
    const s = net.connect(8080, ip, () => s.destroy()); // what the kubelet's TCP probe does
    s.on('error', () => {});
    setTimeout(next, gap);
  };
  next();
  return () => {
    stopped = true;
  };
}

const previousEhash = readFileSync('/proc/sys/net/ipv4/tcp_child_ehash_entries', 'utf8').trim();
const lab = await NetnsLab.create();
let listeners: ChildProcess | undefined;
try {
  if (CHILD_EHASH > 0) writeFileSync('/proc/sys/net/ipv4/tcp_child_ehash_entries', String(CHILD_EHASH));
  log(`making ${N} network namespaces (tcp_child_ehash_entries ${CHILD_EHASH || previousEhash})`);
  const namespaces = await lab.addNamespaces(N);
  writeFileSync('/proc/sys/net/ipv4/tcp_child_ehash_entries', previousEhash);
  const pods: Array<{ uid: string; ip: string }> = [];
  for (const ns of namespaces) {
    const sandbox = await lab.startSandbox(ns);
    pods.push({ uid: sandbox.podUid, ip: ns.ip });
  }
  listeners = await startListeners(namespaces);
  const idle = await measure(pods, 'idle');
  let probed: Record<string, number> | undefined;
  if (PROBE_PERIOD_S > 0) {
    const stop = probeLoop(namespaces.map((ns) => ns.ip), PROBE_PERIOD_S);
    try {
      probed = await measure(pods, `probed every ${PROBE_PERIOD_S} s`);
    } finally {
      stop();
    }
  }
  // A connection held open to every backend, from an address that is neither the node's nor the Pod's
  // (the router's, on a real node): each is then active, read at the active interval.
  const peer = await lab.startPeer(await lab.addNamespace(), 'client');
  for (const ns of namespaces) await peer.send('open', { key: ns.ip, host: ns.ip, port: 8080 });
  const active = await measure(pods, 'each holding a connection');
  for (const ns of namespaces) await peer.send('close', { key: ns.ip });
  const row = (label: string, r: Record<string, number>) =>
    `${label.padEnd(28)} CPU ${r.cpuPercentOfOneCore!.toFixed(2).padStart(6)} % of one core   RSS ${r.rssMiB!.toFixed(1).padStart(6)} MiB (peak ${r.peakRssMiB!.toFixed(1)})   ` +
    `reads/s: counters ${r.counterReadsPerSecond!.toFixed(0)}, Pod tables ${r.podTableReadsPerSecond!.toFixed(2)}, node table ${r.nodeTableReadsPerSecond!.toFixed(2)}   unreachable ${r.unreachable}`;
  console.log(`\n== node observer alone (${args['from-source'] ? 'TypeScript by type stripping' : "the sweeper image's compiled JavaScript and Node flags"}): ${N} backends (network namespaces with a listener), ${SECONDS} s window after 5 s warm-up, reads every ${INTERVAL_MS} ms (${ACTIVE_INTERVAL_MS} ms with a connection open); ` +
    `tcp_child_ehash_entries ${CHILD_EHASH > 0 ? CHILD_EHASH : `${previousEhash} (shared TCP hash)`}; load average now ${loadavg()}`);
  console.log(row('idle', idle));
  if (probed) console.log(row(`TCP probe every ${PROBE_PERIOD_S} s each`, probed));
  console.log(row('one connection open each', active));
  console.log('target: under 2 % of one core and 60 MB RSS at 200 backends');
} finally {
  writeFileSync('/proc/sys/net/ipv4/tcp_child_ehash_entries', previousEhash);
  listeners?.kill('SIGKILL');
  await lab.close();
}
process.exit(0);
