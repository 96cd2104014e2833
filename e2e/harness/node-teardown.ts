// Tears down what a real node leaves on the host, whether it stopped cleanly or crashed: container
// processes and their shims, mounts, network namespaces, iptables chains and the network links.
// Each step tolerates finding nothing, so it is safe on a half-started run and safe to run twice.
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';

/** What the run record keeps about a real node. */
export interface RealNodeRecord {
  /** Folder of the node's per-run state (inside the run folder). */
  dir: string;
  containerdSocket: string;
  containerdStateDir: string;
  dummyInterface: string;
  bridge: string;
  /** kube-proxy's binary, for `--cleanup`. */
  kubeProxy?: string;
}

const cgroupRoot = '/sys/fs/cgroup';
/** Where the kubelet's cgroupfs driver puts every pod (cgroupRoot "/"). */
const podsCgroup = 'kubepods';

async function pidsIn(dir: string): Promise<number[]> {
  const pids: number[] = [];
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return pids;
  }
  try {
    for (const line of (await readFile(path.join(dir, 'cgroup.procs'), 'utf8')).split('\n')) {
      if (line.trim()) pids.push(Number(line));
    }
  } catch {
    /* not a cgroup folder */
  }
  for (const e of entries) if (e.isDirectory()) pids.push(...(await pidsIn(path.join(dir, e.name))));
  return pids;
}

/** Removes a cgroup tree bottom-up; a cgroup folder can only be removed once empty of children. */
async function removeCgroupTree(dir: string): Promise<void> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) if (e.isDirectory()) await removeCgroupTree(path.join(dir, e.name));
  await rmdir(dir).catch(() => undefined);
}

async function controllers(): Promise<string[]> {
  try {
    return (await readdir(cgroupRoot, { withFileTypes: true })).filter((e) => e.isDirectory() || e.isSymbolicLink()).map((e) => e.name);
  } catch {
    return [];
  }
}

/** Kills every process of every pod (all under the kubelet's `kubepods` cgroups) and removes the cgroups. */
export async function killPodProcesses(log: (line: string) => void): Promise<void> {
  const dirs = (await controllers()).map((c) => path.join(cgroupRoot, c, podsCgroup)).filter((d) => existsSync(d));
  for (let attempt = 0; attempt < 20; attempt++) {
    const pids = new Set<number>();
    for (const d of dirs) for (const p of await pidsIn(d)) pids.add(p);
    if (pids.size === 0) break;
    if (attempt === 0) log(`killing ${pids.size} pod process(es)`);
    for (const p of pids) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await sleep(200);
  }
  for (const d of dirs) await removeCgroupTree(d);
}

/** containerd's shims outlive containerd itself; ours are the ones started with our socket. */
export async function killShims(socket: string, log: (line: string) => void): Promise<void> {
  const killed: number[] = [];
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).split('\0');
    } catch {
      continue;
    }
    if (!path.basename(argv[0] ?? '').startsWith('containerd-shim')) continue;
    const i = argv.indexOf('-address');
    if (i < 0 || argv[i + 1] !== socket) continue;
    try {
      process.kill(Number(entry), 'SIGKILL');
      killed.push(Number(entry));
    } catch {
      /* gone */
    }
  }
  if (killed.length > 0) log(`killed ${killed.length} containerd shim(s)`);
}

/** Mount points at or under any of `prefixes`, deepest first. */
export function mountsUnder(mountsTable: string, prefixes: string[]): string[] {
  const points = mountsTable
    .split('\n')
    .map((line) => line.split(' ')[1])
    .filter((p): p is string => !!p)
    // /proc/mounts escapes spaces and the like as octal.
    .map((p) => p.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((p) => prefixes.some((pre) => p === pre || p.startsWith(pre.endsWith('/') ? pre : pre + '/')));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

export async function unmountUnder(prefixes: string[], log: (line: string) => void): Promise<void> {
  for (let round = 0; round < 5; round++) {
    const points = mountsUnder(await readFile('/proc/self/mounts', 'utf8'), prefixes);
    if (points.length === 0) return;
    if (round === 0) log(`unmounting ${points.length} mount(s)`);
    for (const p of points) {
      const r = await execa('umount', [p], { reject: false });
      if (r.exitCode !== 0) await execa('umount', ['-l', p], { reject: false });
    }
  }
}

/** The CRI plugin names each pod's network namespace cni-<uuid> under /var/run/netns. */
export async function removePodNetns(log: (line: string) => void): Promise<void> {
  const dir = '/var/run/netns';
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.startsWith('cni-'));
  for (const n of names) {
    await execa('umount', [path.join(dir, n)], { reject: false });
    await rm(path.join(dir, n), { force: true });
  }
  if (names.length > 0) log(`removed ${names.length} pod network namespace(s)`);
}

/**
 * Chains of the node's components in `iptables-save` output (CNI-* of the bridge and portmap
 * plugins, KUBE-* of the kubelet and kube-proxy, SPAWNER-* of node.ts; `kube-proxy --cleanup` leaves the kubelet's and its
 * own canaries), and the rules of other chains that jump to them.
 */
export function chainsToRemove(iptablesSave: string, prefixes: string[] = ['CNI-', 'KUBE-', 'SPAWNER-']): { table: string; chains: string[]; rules: string[] }[] {
  const ours = (chain: string) => prefixes.some((p) => chain.startsWith(p));
  const out: { table: string; chains: string[]; rules: string[] }[] = [];
  let current: { table: string; chains: string[]; rules: string[] } | undefined;
  for (const line of iptablesSave.split('\n')) {
    if (line.startsWith('*')) {
      current = { table: line.slice(1).trim(), chains: [], rules: [] };
      out.push(current);
    } else if (current && line.startsWith(':') && ours(line.slice(1))) {
      current.chains.push(line.slice(1).split(' ')[0]!);
    } else if (current && line.startsWith('-A ')) {
      const chain = line.slice(3).split(' ')[0]!;
      const target = / -j (\S+)/.exec(line)?.[1];
      if (!ours(chain) && target && ours(target)) current.rules.push(line.slice(3));
    }
  }
  return out.filter((t) => t.chains.length > 0 || t.rules.length > 0);
}

export async function removeNodeIptables(log: (line: string) => void): Promise<void> {
  let n = 0;
  for (const [save, tool] of [['iptables-save', 'iptables'], ['ip6tables-save', 'ip6tables']] as const) {
    const saved = await execa(save, [], { reject: false });
    if (saved.exitCode !== 0) continue;
    for (const t of chainsToRemove(saved.stdout)) {
      for (const rule of t.rules) await execa(tool, ['-t', t.table, '-D', ...splitRule(rule)], { reject: false });
      for (const c of t.chains) await execa(tool, ['-t', t.table, '-F', c], { reject: false });
      for (const c of t.chains) if ((await execa(tool, ['-t', t.table, '-X', c], { reject: false })).exitCode === 0) n++;
    }
  }
  if (n > 0) log(`removed ${n} iptables chain(s) of kube-proxy, the kubelet and the CNI plugins`);
}

/** iptables-save quotes comments with double quotes; split a rule back into arguments. */
export function splitRule(rule: string): string[] {
  const args: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(rule))) args.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!);
  return args;
}

export async function teardownRealNode(node: RealNodeRecord, log: (line: string) => void): Promise<void> {
  await killPodProcesses(log);
  await killShims(node.containerdSocket, log);
  await unmountUnder([node.dir, node.containerdStateDir], log);
  await removePodNetns(log);
  if (node.kubeProxy && existsSync(node.kubeProxy)) {
    await execa(node.kubeProxy, ['--cleanup'], { reject: false });
  }
  await removeNodeIptables(log);
  // kube-proxy turns this on for node ports on localhost; it is off on a stock host.
  await writeFile('/proc/sys/net/ipv4/conf/all/route_localnet', '0').catch(() => undefined);
  for (const link of [node.bridge, node.dummyInterface]) {
    await execa('ip', ['link', 'del', link], { reject: false });
  }
  // Veths of killed pods vanish with their namespaces; the state folder goes with the run folder.
  await rm(node.containerdStateDir, { recursive: true, force: true });
  await rm(node.containerdSocket, { force: true });
  // Release the host's real node if this run holds it (see claimRealNode in node.ts).
  try {
    const owner = JSON.parse(await readFile(realNodeOwnerFile, 'utf8')) as { dir?: string };
    if (owner.dir && node.dir.startsWith(owner.dir + '/')) await rm(realNodeOwnerFile, { force: true });
  } catch {
    /* no claim */
  }
}

/** Kept here (not in node.ts) so that state.ts can tear down without importing the bring-up code. */
export const realNodeOwnerFile = '/run/spawner/real-node.json';
