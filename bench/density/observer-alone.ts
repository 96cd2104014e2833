// The node observer alone over many backends: N network namespaces made here (sweeper/test/support/
// netns-lab.ts), each with a "sandbox" process in a cgroup named as the kubelet names a Pod's and an app
// listening on :8080 (one small C process holds every listener, bench/density/listeners.c, so the apps
// cost nothing worth measuring), followed by the observer as its own unprivileged process, run as the
// sweeper's image runs its code (compiled JavaScript, the image's Node flags; --from-source: the
// TypeScript by type stripping). Printed: its
// CPU (% of one core) and RSS over the window, and how often it read what, first with the backends
// idle, then with each one probed over TCP from the node every --probe-period-s (the kubelet's
// readiness probe; 10 s is what the operator gives a node-mode backend), then with each one holding a
// connection from a peer namespace (its socket counts looked at every --active-interval-ms as well).
//
//   node bench/density/observer-alone.ts [--n 200] [--seconds 60] [--interval-ms 1000] [--active-interval-ms 400] [--probe-period-s 10]
//                                        [--child-ehash 0] [--from-source] [--variant SPEC]… [--rounds 1] [--cases idle,probed,active]
// --variant 'NAME [ref=GIT-REF] [args=FLAG,FLAG…] [env=K=V,…]': an observer to compare, any number of
// times (the first is the baseline of the ratios). ref: the observer (and this driver) as that commit
// has them, staged and compiled the same way; args: Node flags instead of the sweeper image's; env:
// added to its environment. Each case then runs every variant once per round, in an order rotated
// round by round, and prints each one's median and range and its per-round ratio to the first.
// --cases: which of the three cases to run (all by default).
// --child-ehash N: set net.ipv4.tcp_child_ehash_entries=N while the namespaces are made (each then has a
// TCP hash of its own, as on a node configured so; restored afterwards). Needs root.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { COMMON_ARGS, nodeImage } from '../../images/node-images.ts';
import { startListeners } from './listeners.ts';
import { parseVariant, type VariantSpec } from '../support/variant.ts';
import { NetnsLab, requireRoot, UNPRIVILEGED_UID } from '../../sweeper/test/support/netns-lab.ts';

const { values: args } = parseArgs({
  options: {
    n: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '60' },
    'interval-ms': { type: 'string', default: '1000' },
    'active-interval-ms': { type: 'string', default: '400' },
    'probe-period-s': { type: 'string', default: '10' },
    'child-ehash': { type: 'string', default: '0' },
    'from-source': { type: 'boolean', default: false },
    variant: { type: 'string', multiple: true },
    rounds: { type: 'string', default: '1' },
    cases: { type: 'string', default: 'idle,probed,active' },
  },
});
const N = Number(args.n);
const SECONDS = Number(args.seconds);
const INTERVAL_MS = Number(args['interval-ms']);
const ACTIVE_INTERVAL_MS = Number(args['active-interval-ms']);
const PROBE_PERIOD_S = Number(args['probe-period-s']);
const CHILD_EHASH = Number(args['child-ehash']);
const ROUNDS = Number(args.rounds);
const CASES = new Set(args.cases.split(','));
for (const c of CASES) if (!['idle', 'probed', 'active'].includes(c)) throw new Error(`--cases: idle, probed, active (comma-separated), got '${c}'`);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error('--rounds: a whole number ≥ 1');
if (!Number.isInteger(N) || N < 1 || N > 252) throw new Error('--n: 1 to 252 (one lab subnet, and the peer)');
requireRoot();

const here = import.meta.dirname;
const repoRoot = path.resolve(here, '../..');
const log = (line: string) => process.stderr.write(`[observer-alone] ${line}\n`);
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

interface Variant extends VariantSpec {
  command: string[]; // Node's arguments that run it
}

// The observer's code as the sweeper image has it (images/stage-app.sh), plus this benchmark's driver
// compiled the same way, from this checkout or from the commit `ref` (its files and its image's Node
// flags, with this checkout's node_modules); returns the Node arguments that run it.
async function observerCommand(v: VariantSpec): Promise<string[]> {
  const driver = 'bench/density/observer-process.ts';
  const dest = mkdtempSync(path.join(os.tmpdir(), 'observer-image-'));
  let root = repoRoot;
  if (v.ref !== undefined) {
    root = path.join(dest, 'source');
    mkdirSync(root);
    execFileSync('sh', ['-c', `git -C "${repoRoot}" archive "$0" | tar -x -C "${root}"`, v.ref]);
    symlinkSync(path.join(repoRoot, 'node_modules'), path.join(root, 'node_modules'));
  }
  if (args['from-source']) return ['--no-warnings', path.join(root, driver)];
  const image = v.ref === undefined ? nodeImage('sweeper') : ((await import(path.join(root, 'images/node-images.ts'))) as typeof import('../../images/node-images.ts')).nodeImage('sweeper');
  execFileSync('bash', [path.join(root, 'images/stage-app.sh'), image.workspace, image.entry, path.join(dest, 'image')], { stdio: ['ignore', 'ignore', 'inherit'] });
  execFileSync(process.execPath, ['--disable-warning=ExperimentalWarning', path.join(root, 'images/compile.ts'), root, path.join(dest, 'image', 'app'), driver]);
  execFileSync('chmod', ['-R', 'a+rX', dest]);
  return [...COMMON_ARGS, ...(v.nodeArgs ?? image.nodeArgs), path.join(dest, 'image', 'app', driver.replace(/\.ts$/, '.js'))];
}
const variants: Variant[] = [];
for (const v of (args.variant ?? ['image']).map((spec) => parseVariant(spec))) variants.push({ ...v, command: await observerCommand(v) });
for (const v of variants) log(`variant ${v.name}: node ${v.command.join(' ')}${Object.keys(v.env).length ? ` with ${JSON.stringify(v.env)}` : ''}`);

async function measure(pods: Array<{ uid: string; ip: string }>, label: string, v: Variant): Promise<Record<string, number>> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'observer-alone-'));
  chmodSync(dir, 0o755);
  const file = path.join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ pods, appPort: 8080, intervalMs: INTERVAL_MS, activeIntervalMs: ACTIVE_INTERVAL_MS, warmupSeconds: 5, seconds: SECONDS }), { mode: 0o644 });
  log(`${label}, ${v.name}: observing ${pods.length} backends for ${SECONDS} s (load ${loadavg()})`);
  const child = spawn(
    'setpriv',
    [`--reuid=${UNPRIVILEGED_UID}`, `--regid=${UNPRIVILEGED_UID}`, '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--', process.execPath, ...v.command, file],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...v.env } },
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`observer process exited ${code}`);
  return { ...(JSON.parse(out.trim().split('\n').pop()!) as Record<string, number>), load1: Number(loadavg().split(' ')[0]) };
}

// Every variant once per round, the order rotated each round (no variant always runs first, after the
// same one); results by variant, in round order.
async function measureRounds(pods: Array<{ uid: string; ip: string }>, label: string): Promise<Record<string, number>[][]> {
  const results: Record<string, number>[][] = variants.map(() => []);
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < variants.length; k++) {
      const i = (k + round) % variants.length;
      results[i]!.push(await measure(pods, `${label}, round ${round + 1}/${ROUNDS}`, variants[i]!));
    }
  }
  return results;
}

// `median (min–max)` of a field over rounds; '—' where a variant's driver does not report it.
function spread(rows: Array<Record<string, number>>, field: string, digits: number): string {
  const xs = rows.map((r) => r[field]).filter((x): x is number => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (xs.length === 0) return '—';
  const mid = xs.length % 2 ? xs[(xs.length - 1) / 2]! : (xs[xs.length / 2 - 1]! + xs[xs.length / 2]!) / 2;
  return xs.length === 1 ? mid.toFixed(digits) : `${mid.toFixed(digits)} (${xs[0]!.toFixed(digits)}–${xs.at(-1)!.toFixed(digits)})`;
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
  const cases: Array<{ label: string; results: Record<string, number>[][] }> = [];
  if (CASES.has('idle')) cases.push({ label: 'idle', results: await measureRounds(pods, 'idle') });
  if (CASES.has('probed') && PROBE_PERIOD_S > 0) {
    const stop = probeLoop(namespaces.map((ns) => ns.ip), PROBE_PERIOD_S);
    try {
      cases.push({ label: `TCP probe every ${PROBE_PERIOD_S} s each`, results: await measureRounds(pods, `probed every ${PROBE_PERIOD_S} s`) });
    } finally {
      stop();
    }
  }
  // A connection held open to every backend, from an address that is neither the node's nor the Pod's
  // (the router's, on a real node): each is then active, read at the active interval.
  if (CASES.has('active')) {
    const peer = await lab.startPeer(await lab.addNamespace(), 'client');
    for (const ns of namespaces) await peer.send('open', { key: ns.ip, host: ns.ip, port: 8080 });
    cases.push({ label: 'one connection open each', results: await measureRounds(pods, 'each holding a connection') });
    for (const ns of namespaces) await peer.send('close', { key: ns.ip });
  }

  console.log(`\n== node observer alone (${args['from-source'] ? 'TypeScript by type stripping' : "the sweeper image's compiled JavaScript"}): ${N} backends (network namespaces with a listener), ${SECONDS} s window after 5 s warm-up, reads every ${INTERVAL_MS} ms (socket counts every ${ACTIVE_INTERVAL_MS} ms with a connection open); ` +
    `tcp_child_ehash_entries ${CHILD_EHASH > 0 ? CHILD_EHASH : `${previousEhash} (shared TCP hash)`}; ${ROUNDS} round(s), variants in rotated order; load average now ${loadavg()}`);
  for (const v of variants) console.log(`   ${v.name}: node ${v.command.slice(0, -1).join(' ')}${Object.keys(v.env).length ? `, env ${JSON.stringify(v.env)}` : ''}${v.ref ? `, code of ${v.ref}` : ''}`);
  console.log('   figures: median (min–max) over rounds; ratios: each round against the first variant in the same round');
  for (const c of cases) {
    console.log(`-- ${c.label}`);
    c.results.forEach((rs, i) => {
      console.log(`   ${variants[i]!.name.padEnd(12)} CPU ${spread(rs, 'cpuPercentOfOneCore', 2)} % of one core (in the kernel ${spread(rs, 'systemCpuPercentOfOneCore', 2)})   ` +
        `RSS ${spread(rs, 'rssMiB', 1)} MiB (anonymous ${spread(rs, 'rssAnonMiB', 1)}, file ${spread(rs, 'rssFileMiB', 1)}; peak in the window ${spread(rs, 'peakRssMiB', 1)})   ` +
        `V8 heap ${spread(rs, 'heapUsedMiB', 1)} used of ${spread(rs, 'heapTotalMiB', 1)} (resident ${spread(rs, 'heapPhysicalMiB', 1)}: young ${spread(rs, 'heapNewMiB', 1)}, old ${spread(rs, 'heapOldMiB', 1)}, code ${spread(rs, 'heapCodeMiB', 1)}, large ${spread(rs, 'heapLargeMiB', 1)}), external ${spread(rs, 'externalMiB', 1)}, anonymous outside the heap ${spread(rs, 'outsideHeapMiB', 1)}   ` +
        `reads/s: counters ${spread(rs, 'counterReadsPerSecond', 0)}, socket counts ${spread(rs, 'socketCountReadsPerSecond', 0)}, Pod tables ${spread(rs, 'podTableReadsPerSecond', 2)}, node table ${spread(rs, 'nodeTableReadsPerSecond', 2)}   ` +
        `unreachable ${spread(rs, 'unreachable', 0)}   load ${spread(rs, 'load1', 2)}`);
      if (i > 0) {
        const ratio = (field: string) => spread(rs.map((r, round) => ({ x: r[field]! / c.results[0]![round]![field]! })), 'x', 3);
        console.log(`   ${''.padEnd(12)} ÷ ${variants[0]!.name}: CPU ${ratio('cpuPercentOfOneCore')}, RSS ${ratio('rssMiB')}`);
      }
    });
  }
  console.log('target: under 2 % of one core and 60 MB RSS at 200 backends');
} finally {
  writeFileSync('/proc/sys/net/ipv4/tcp_child_ehash_entries', previousEhash);
  listeners?.kill('SIGKILL');
  await lab.close();
}
process.exit(0);
