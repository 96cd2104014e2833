// Real network namespaces for the node observer's tests and benchmarks: a bridge in the node's own
// namespace (its address is the node's, as the CNI bridge's is on a real node), one veth-attached
// namespace per "Pod", processes started inside them as an unprivileged user and placed in a cgroup
// whose path carries a Pod UID the way the kubelet writes it (cgroupfs or systemd driver).
//
// Needs root (tests run as root here and in CI). Everything made is recorded under STATE_DIR and
// removed by close(); a lab whose process died without closing is removed by the next lab created.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { execa } from 'execa';

const STATE_DIR = '/tmp/spawner-netns-labs';
const PROGRAMS = path.join(import.meta.dirname, 'netns-programs');
export const UNPRIVILEGED_UID = 65534;

export type CgroupDriver = 'cgroupfs' | 'systemd';

interface LabRecord {
  pid: number;
  bridge: string;
  namespaces: string[];
  cgroupBase: string;
}

export interface Netns {
  name: string;
  ip: string;
}

export interface PodProcess {
  podUid: string;
  pid: number;
  ns: Netns;
  program: Program;
}

export function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new Error('these tests create network namespaces and cgroups: run them as root (as CI does)');
}

async function sh(cmd: string, args: string[]): Promise<void> {
  const r = await execa(cmd, args, { reject: false });
  if (r.exitCode !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.stdout}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// The hierarchy a test cgroup goes into: a v1 controller if the machine has them, else cgroup v2.
function cgroupHierarchy(): string {
  for (const candidate of ['/sys/fs/cgroup/pids', '/sys/fs/cgroup/unified', '/sys/fs/cgroup']) {
    if (existsSync(path.join(candidate, 'cgroup.procs'))) return candidate;
  }
  throw new Error('no cgroup hierarchy found under /sys/fs/cgroup');
}

export function podCgroupPath(driver: CgroupDriver, podUid: string, container: string): string {
  return driver === 'cgroupfs'
    ? `kubepods/besteffort/pod${podUid}/${container}`
    : `kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${podUid.replaceAll('-', '_')}.slice/cri-containerd-${container}.scope`;
}

function removeCgroupTree(dir: string): void {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) removeCgroupTree(path.join(dir, entry.name));
  }
  try {
    rmdirSync(dir);
  } catch {
    // still holds a process (it will be gone after the kill) or was removed meanwhile
  }
}

async function removeLab(record: LabRecord): Promise<void> {
  for (const ns of record.namespaces) {
    const pids = await execa('ip', ['netns', 'pids', ns], { reject: false });
    for (const pid of pids.stdout.split('\n').filter(Boolean).map(Number)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  // Killed processes leave their cgroup once reaped; give them a moment.
  for (let i = 0; i < 50 && existsSync(record.cgroupBase); i++) {
    removeCgroupTree(record.cgroupBase);
    if (existsSync(record.cgroupBase)) await new Promise((r) => setTimeout(r, 20));
  }
  for (const ns of record.namespaces) await execa('ip', ['netns', 'del', ns], { reject: false });
  await execa('ip', ['link', 'del', record.bridge], { reject: false });
}

// Labs whose owner died without closing them.
async function removeAbandonedLabs(): Promise<void> {
  if (!existsSync(STATE_DIR)) return;
  for (const file of readdirSync(STATE_DIR)) {
    const full = path.join(STATE_DIR, file);
    let record: LabRecord;
    try {
      record = JSON.parse(readFileSync(full, 'utf8')) as LabRecord;
    } catch {
      continue;
    }
    if (alive(record.pid)) continue;
    await removeLab(record);
    rmSync(full, { force: true });
  }
}

async function freeSubnet(): Promise<number> {
  const routes = (await execa('ip', ['-4', 'route', 'show'], { reject: false })).stdout;
  for (let attempt = 0; attempt < 50; attempt++) {
    const x = 1 + Math.floor(Math.random() * 254);
    if (!routes.includes(`10.213.${x}.`)) return x;
  }
  throw new Error('no free 10.213.x.0/24 subnet for a test bridge');
}

export class NetnsLab {
  readonly id: string;
  readonly bridge: string;
  readonly gateway: string; // the bridge's address: a node address, as the CNI bridge's is
  readonly #subnet: number;
  readonly #record: LabRecord;
  readonly #stateFile: string;
  readonly #programs = new Set<Program>();
  readonly #sandboxes: ChildProcess[] = [];
  #next = 2;

  private constructor(id: string, subnet: number, cgroupBase: string) {
    this.id = id;
    this.#subnet = subnet;
    this.bridge = `spwb-${id}`;
    this.gateway = `10.213.${subnet}.1`;
    this.#record = { pid: process.pid, bridge: this.bridge, namespaces: [], cgroupBase };
    this.#stateFile = path.join(STATE_DIR, `${id}.json`);
  }

  static async create(): Promise<NetnsLab> {
    requireRoot();
    await removeAbandonedLabs();
    mkdirSync(STATE_DIR, { recursive: true });
    const id = randomBytes(3).toString('hex').slice(0, 5);
    const lab = new NetnsLab(id, await freeSubnet(), path.join(cgroupHierarchy(), `spawner-test-${id}`));
    lab.#save();
    try {
      await sh('ip', ['link', 'add', lab.bridge, 'type', 'bridge']);
      await sh('ip', ['addr', 'add', `${lab.gateway}/24`, 'dev', lab.bridge]);
      await sh('ip', ['link', 'set', lab.bridge, 'up']);
    } catch (err) {
      await lab.close();
      throw err;
    }
    return lab;
  }

  #save(): void {
    writeFileSync(this.#stateFile, JSON.stringify(this.#record));
  }

  // A namespace with one veth on the bridge, loopback up, and a default route through the node.
  async addNamespace(): Promise<Netns> {
    const n = this.#next++;
    if (n > 254) throw new Error('a lab holds at most 253 namespaces');
    const name = `spwt-${process.pid}-${this.id}-${n}`;
    const hostSide = `spwv${this.id}${n.toString(16)}`;
    const ip = `10.213.${this.#subnet}.${n}`;
    this.#record.namespaces.push(name);
    this.#save();
    await sh('ip', ['netns', 'add', name]);
    await sh('ip', ['link', 'add', hostSide, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', name]);
    await sh('ip', ['link', 'set', hostSide, 'master', this.bridge, 'up']);
    await sh('ip', ['-n', name, 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
    await sh('ip', ['-n', name, 'link', 'set', 'eth0', 'up']);
    await sh('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    await sh('ip', ['-n', name, 'route', 'add', 'default', 'via', this.gateway]);
    return { name, ip };
  }

  // Many namespaces at once (one `ip -batch`), for benchmarks.
  async addNamespaces(count: number): Promise<Netns[]> {
    const made: Netns[] = [];
    const lines: string[] = []; // in the node's namespace
    const inside: string[][] = []; // in each new one (a batch line cannot name a namespace)
    for (let i = 0; i < count; i++) {
      const n = this.#next++;
      if (n > 254) throw new Error('a lab holds at most 253 namespaces');
      const name = `spwt-${process.pid}-${this.id}-${n}`;
      const hostSide = `spwv${this.id}${n.toString(16)}`;
      const ip = `10.213.${this.#subnet}.${n}`;
      this.#record.namespaces.push(name);
      lines.push(`netns add ${name}`, `link add ${hostSide} type veth peer name eth0 netns ${name}`, `link set ${hostSide} master ${this.bridge} up`);
      inside.push([name, `addr add ${ip}/24 dev eth0`, 'link set eth0 up', 'link set lo up', `route add default via ${this.gateway}`]);
      made.push({ name, ip });
    }
    this.#save();
    const batch = async (prefix: string[], commands: string[]) => {
      const r = await execa('ip', [...prefix, '-batch', '-'], { input: `${commands.join('\n')}\n`, reject: false });
      if (r.exitCode !== 0) throw new Error(`ip ${prefix.join(' ')} -batch: ${r.stderr}`);
    };
    await batch([], lines);
    for (const [name, ...commands] of inside) await batch(['-n', name!], commands);
    return made;
  }

  // A process that only holds the namespace, as a Pod's sandbox does (`sleep`, unprivileged), in a
  // cgroup carrying `podUid`.
  async startSandbox(ns: Netns, opts: { driver?: CgroupDriver; podUid?: string } = {}): Promise<{ podUid: string; pid: number }> {
    const podUid = opts.podUid ?? randomUUID();
    const cgroup = path.join(this.#record.cgroupBase, podCgroupPath(opts.driver ?? 'cgroupfs', podUid, randomBytes(8).toString('hex')));
    mkdirSync(cgroup, { recursive: true });
    const cmd = `echo $$ > '${cgroup}/cgroup.procs' && exec ip netns exec '${ns.name}' setpriv --reuid=${UNPRIVILEGED_UID} --regid=${UNPRIVILEGED_UID} --clear-groups --inh-caps=-all sleep infinity`;
    const child = spawn('sh', ['-c', cmd], { stdio: 'ignore' });
    this.#sandboxes.push(child);
    return { podUid, pid: child.pid! };
  }

  // A program from netns-programs/ run inside `ns` as an unprivileged user, in a cgroup whose path
  // carries `podUid` the way `driver` spells it.
  async startPod(ns: Netns, programName: string, args: string[], opts: { driver?: CgroupDriver; podUid?: string } = {}): Promise<PodProcess> {
    const podUid = opts.podUid ?? randomUUID();
    const cgroup = path.join(this.#record.cgroupBase, podCgroupPath(opts.driver ?? 'cgroupfs', podUid, randomBytes(8).toString('hex')));
    mkdirSync(cgroup, { recursive: true });
    const program = await this.#start(ns, programName, args, cgroup);
    return { podUid, pid: program.pid, ns, program };
  }

  // A program inside `ns` outside any Pod cgroup (a peer such as the router's nginx).
  async startPeer(ns: Netns, programName: string, args: string[] = []): Promise<Program> {
    return this.#start(ns, programName, args, undefined);
  }

  async #start(ns: Netns, programName: string, args: string[], cgroup: string | undefined): Promise<Program> {
    const script = path.join(PROGRAMS, `${programName}.ts`);
    const inner = [
      'ip', 'netns', 'exec', ns.name,
      'setpriv', `--reuid=${UNPRIVILEGED_UID}`, `--regid=${UNPRIVILEGED_UID}`, '--clear-groups', '--inh-caps=-all',
      process.execPath, '--no-warnings', script, ...args,
    ];
    const quoted = inner.map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(' ');
    const cmd = cgroup ? `echo $$ > '${cgroup}/cgroup.procs' && exec ${quoted}` : `exec ${quoted}`;
    const child = spawn('sh', ['-c', cmd], { stdio: ['pipe', 'pipe', 'pipe'] });
    const program = new Program(child);
    this.#programs.add(program);
    await program.ready();
    return program;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#programs].map((p) => p.kill()));
    for (const child of this.#sandboxes) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await removeLab(this.#record);
    rmSync(this.#stateFile, { force: true });
  }
}

// A program speaking one JSON object per line: requests on stdin, answers (and a first
// {"ready":true}) on stdout.
export class Program {
  readonly child: ChildProcess;
  readonly pid: number;
  #waiting = new Map<number, { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  #seq = 0;
  #ready: Promise<void>;
  #stderr = '';
  #exited: Promise<void>;

  constructor(child: ChildProcess) {
    this.child = child;
    this.pid = child.pid!;
    child.stderr!.on('data', (d: Buffer) => {
      this.#stderr += d.toString();
    });
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
    let markReady: () => void = () => {};
    let failReady: (e: Error) => void = () => {};
    this.#ready = new Promise((resolve, reject) => {
      markReady = resolve;
      failReady = reject;
    });
    child.once('exit', (code) => {
      const err = new Error(`program exited (${code}): ${this.#stderr.trim()}`);
      failReady(err);
      for (const w of this.#waiting.values()) w.reject(err);
      this.#waiting.clear();
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      if (msg.ready === true) markReady();
      const id = msg.id as number | undefined;
      const w = id === undefined ? undefined : this.#waiting.get(id);
      if (!w) return;
      this.#waiting.delete(id!);
      if (msg.error) w.reject(new Error(String(msg.error)));
      else w.resolve(msg);
    });
  }

  ready(): Promise<void> {
    return this.#ready;
  }

  send<T = Record<string, unknown>>(op: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = ++this.#seq;
    return new Promise<T>((resolve, reject) => {
      this.#waiting.set(id, { resolve: resolve as (v: Record<string, unknown>) => void, reject });
      this.child.stdin!.write(`${JSON.stringify({ id, op, ...params })}\n`);
    });
  }

  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.#exited;
  }
}

// What the kubelet does for a TCP probe: connect from the node's namespace, then close.
export function tcpProbe(ip: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, ip, () => {
      s.destroy();
      resolve();
    });
    s.on('error', reject);
  });
}
