import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { binaryPath, controlPlaneBinaries, ensureBinaries, kwokStageFiles, pinnedVersions, realNodeBinaries } from './binaries.ts';
import type { BinaryName } from './binaries.ts';
import { renderKubeconfig } from './kubeconfig.ts';
import { freePorts, request } from './net.ts';
import type { TlsMaterial } from './net.ts';
import { defaultCrdPaths, defaultStateFile } from './paths.ts';
import { makePki, readBase64 } from './pki.ts';
import type { Identity, Pki } from './pki.ts';
import { cleanRecord, readRecord, runs, stopProcess, writeRecord } from './state.ts';
import type { RunRecord } from './state.ts';
import { waitFor } from './wait.ts';
import { claimRealNode, defaultLayout, joinRealNode, prepareHostNetwork, realNodeIdentities, realNodeRecord } from './node.ts';

export const serviceCIDR = '10.96.0.0/16';
export const serviceIP = '10.96.0.1';
/** Fake pod addresses kwok hands out; nothing ever listens there. A /16 leaves room for benchmarks. */
export const podCIDR = '10.0.0.0/16';
export const kwokNodeAnnotation = 'kwok.x-k8s.io/node';
export const kwokNodeLabel = 'type';

export interface UpOptions {
  stateFile?: string;
  /** How many fake nodes kwok manages (SPAWNER_KWOK_NODES, default 2). */
  nodes?: number;
  /**
   * CRD manifests to install; by default those in SPAWNER_CLUSTER_CRDS, else the project's CRD when
   * `npm run generate` has made it.
   */
  crdPaths?: string[];
  /** Build missing binaries with e2e/cluster/build.sh (default true). */
  build?: boolean;
  log?: (line: string) => void;
  /** Deadline for each component to become healthy. */
  timeoutMs?: number;
  /** Extra kube-apiserver flags, e.g. a feature gate a benchmark compares. */
  apiserverExtraArgs?: string[];
  /**
   * Also join a real node (containerd, kubelet, kube-proxy, CoreDNS; see node.ts). Needs root and
   * the Debian packages named there. Off by default: the API server then stays on loopback only.
   */
  realNode?: boolean;
}

export interface ClusterInfo {
  stateFile: string;
  dir: string;
  kubeconfig: string;
  server: string;
  kubectl: string;
  version: string;
  nodes: string[];
  /** The real node's name, with `realNode`. */
  realNode?: string;
}

interface Component {
  name: string;
  logFile: string;
  /** Why it is no longer running, once it has stopped. */
  exit(): string | undefined;
}

function defaultLog(line: string): void {
  process.stderr.write(`[cluster] ${line}\n`);
}

function tail(file: string, lines = 25): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

// The API server needs clients in system:masters for admin work; controller-manager and scheduler use
// the users their bootstrap RBAC is bound to, so the cluster's RBAC is exercised as upstream ships it.
const identities: Identity[] = [
  { file: 'admin', user: 'admin', groups: ['system:masters'] },
  { file: 'controller-manager', user: 'system:kube-controller-manager', groups: [] },
  { file: 'scheduler', user: 'system:kube-scheduler', groups: [] },
  { file: 'kwok', user: 'kwok', groups: ['system:masters'] },
  { file: 'apiserver-kubelet-client', user: 'kube-apiserver-kubelet-client', groups: ['system:masters'] },
];

export function apiserverArgs(o: {
  pki: Pki;
  etcdPort: number;
  port: number;
  dir: string;
  /** A real node's address: the API server listens there too and is the `kubernetes` Service's endpoint. */
  advertiseAddress?: string;
}): string[] {
  const reach = o.advertiseAddress
    ? [
        '--bind-address=0.0.0.0',
        `--advertise-address=${o.advertiseAddress}`,
        // Logs, exec and port-forward reach the kubelet by address: the node name is not in DNS.
        '--kubelet-preferred-address-types=InternalIP,Hostname',
      ]
    : [
        '--bind-address=127.0.0.1',
        // Loopback cannot be an Endpoints address: keep the default Service unreconciled until a real
        // node brings a routable address.
        '--advertise-address=127.0.0.1',
        '--endpoint-reconciler-type=none',
      ];
  return [
    `--etcd-servers=http://127.0.0.1:${o.etcdPort}`,
    ...reach,
    `--secure-port=${o.port}`,
    `--cert-dir=${path.join(o.dir, 'apiserver')}`,
    `--tls-cert-file=${o.pki.apiserver.cert}`,
    `--tls-private-key-file=${o.pki.apiserver.key}`,
    `--client-ca-file=${o.pki.ca.cert}`,
    `--kubelet-client-certificate=${o.pki.clients['apiserver-kubelet-client']!.cert}`,
    `--kubelet-client-key=${o.pki.clients['apiserver-kubelet-client']!.key}`,
    '--authorization-mode=Node,RBAC',
    '--enable-admission-plugins=NamespaceLifecycle,LimitRanger,ServiceAccount,DefaultStorageClass,DefaultTolerationSeconds,' +
      'MutatingAdmissionWebhook,ValidatingAdmissionWebhook,ValidatingAdmissionPolicy,ResourceQuota,Priority,NodeRestriction,PodSecurity',
    '--allow-privileged=true',
    `--service-cluster-ip-range=${serviceCIDR}`,
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${o.pki.serviceAccountPub}`,
    `--service-account-signing-key-file=${o.pki.serviceAccountKey}`,
    '--profiling=false',
  ];
}

export function controllerManagerArgs(o: { pki: Pki; kubeconfig: string; port: number; dir: string }): string[] {
  return [
    `--kubeconfig=${o.kubeconfig}`,
    `--authentication-kubeconfig=${o.kubeconfig}`,
    `--authorization-kubeconfig=${o.kubeconfig}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${o.port}`,
    `--cert-dir=${path.join(o.dir, 'controller-manager')}`,
    '--controllers=*',
    // Each controller acts as its own service account, as in a kubeadm cluster.
    '--use-service-account-credentials=true',
    `--service-account-private-key-file=${o.pki.serviceAccountKey}`,
    `--root-ca-file=${o.pki.ca.cert}`,
    `--cluster-signing-cert-file=${o.pki.ca.cert}`,
    `--cluster-signing-key-file=${o.pki.ca.key}`,
    '--cluster-name=spawner-test',
    '--leader-elect=false',
    '--profiling=false',
  ];
}

export function schedulerArgs(o: { kubeconfig: string; port: number }): string[] {
  return [
    `--kubeconfig=${o.kubeconfig}`,
    `--authentication-kubeconfig=${o.kubeconfig}`,
    `--authorization-kubeconfig=${o.kubeconfig}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${o.port}`,
    '--leader-elect=false',
    '--profiling=false',
  ];
}

export function kwokArgs(o: { kubeconfig: string; stages: string[] }): string[] {
  return [
    `--kubeconfig=${o.kubeconfig}`,
    `--config=${o.stages.join(',')}`,
    '--manage-all-nodes=false',
    `--manage-nodes-with-annotation-selector=${kwokNodeAnnotation}=fake`,
    `--cidr=${podCIDR}`,
    // kwok renews each node's Lease so the node lifecycle controller keeps the nodes Ready.
    '--node-lease-duration-seconds=40',
  ];
}

/** A Node that kwok manages: the annotation selects it, capacity lets the scheduler place pods. */
export function kwokNode(name: string): Record<string, unknown> {
  const resources = { cpu: '1000', memory: '1Ti', pods: '10000' };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { [kwokNodeAnnotation]: 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: {
        [kwokNodeLabel]: 'kwok',
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
      },
    },
    status: { capacity: resources, allocatable: resources },
  };
}

interface NodeLike {
  metadata?: { name?: string };
  spec?: { taints?: { key: string }[] };
  status?: { conditions?: { type: string; status: string }[] };
}

/** Ready and free of the taints that keep the scheduler away. */
export function nodeSchedulable(node: NodeLike): boolean {
  const ready = node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
  const blocked = (node.spec?.taints ?? []).some(
    (t) => t.key === 'node.kubernetes.io/not-ready' || t.key === 'node.kubernetes.io/unreachable',
  );
  return ready && !blocked;
}

/** SPAWNER_CLUSTER_CRDS: comma-separated manifests to install instead of the project's CRD; `none` for none. */
export function crdPathsFromEnv(env: NodeJS.ProcessEnv = process.env): string[] | undefined {
  const raw = env.SPAWNER_CLUSTER_CRDS;
  if (raw === undefined) return undefined;
  if (raw.trim() === '' || raw.trim() === 'none') return [];
  return raw.split(',').map((p) => path.resolve(p.trim())).filter((p) => p.length > 0);
}

function nodeCount(options: UpOptions): number {
  const raw = options.nodes ?? (process.env.SPAWNER_KWOK_NODES ? Number(process.env.SPAWNER_KWOK_NODES) : 2);
  if (!Number.isInteger(raw) || raw < 1 || raw > 1000) {
    throw new Error(`SPAWNER_KWOK_NODES / nodes must be an integer from 1 to 1000, got ${String(raw)}`);
  }
  return raw;
}

async function mountTmpfs(dir: string, record: RunRecord, log: (line: string) => void): Promise<string> {
  const target = path.join(dir, 'etcd');
  await mkdir(target, { recursive: true, mode: 0o700 });
  const r = await execa('mount', ['-t', 'tmpfs', '-o', 'size=4g,mode=0700', 'spawner-etcd', target], { reject: false });
  if (r.exitCode === 0) {
    record.mounts.push(target);
    return target;
  }
  // Without the right to mount, /dev/shm is tmpfs already.
  log(`cannot mount tmpfs (${r.stderr.trim() || r.exitCode}); keeping etcd's data in /dev/shm`);
  const shm = await mkdtemp('/dev/shm/spawner-etcd-');
  record.extraDirs.push(shm);
  return shm;
}

/**
 * Starts one component detached, in its own process group and not tied to this process: `cli.ts up`
 * returns while the cluster keeps running, and `down` signals the group. node:child_process rather
 * than execa here: the output goes straight to a log file descriptor, which execa's types do not take.
 */
async function launch(name: string, binary: string, args: string[], logFile: string): Promise<{ pid: number; exit(): string | undefined }> {
  await mkdir(path.dirname(logFile), { recursive: true });
  const fd = openSync(logFile, 'a');
  try {
    let exited: string | undefined;
    const child = spawn(binary, args, { detached: true, stdio: ['ignore', fd, fd] });
    child.unref();
    const spawnFailed = await new Promise<Error | undefined>((resolve) => {
      child.once('spawn', () => resolve(undefined));
      child.once('error', (e) => resolve(e));
    });
    if (spawnFailed || child.pid === undefined) throw new Error(`${name} did not start: ${spawnFailed?.message ?? 'no pid'}`);
    child.once('exit', (code, signal) => {
      exited = `exited (${signal ?? `code ${String(code)}`})`;
    });
    return { pid: child.pid, exit: () => exited };
  } finally {
    closeSync(fd);
  }
}

/**
 * Starts etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok with its fake nodes,
 * all on loopback with free ports and all state in one temp folder, and returns once each is healthy.
 * Any earlier run recorded in the state file is cleaned first.
 */
export async function up(options: UpOptions = {}): Promise<ClusterInfo> {
  const started = Date.now();
  const baseLog = options.log ?? defaultLog;
  const log = (line: string) => baseLog(`${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s ${line}`);
  const stateFile = options.stateFile ?? defaultStateFile();
  const timeoutMs = options.timeoutMs ?? 180_000;
  const nodes = nodeCount(options);

  const previous = readRecord(stateFile);
  if (previous) {
    log(`cleaning the run recorded in ${stateFile} (${previous.dir})`);
    await cleanRecord(stateFile, previous, log);
  }
  const realNode = options.realNode === true;
  const layout = defaultLayout;
  if (options.build !== false) await ensureBinaries(realNode ? [...controlPlaneBinaries, ...realNodeBinaries] : controlPlaneBinaries, log);
  const versions = pinnedVersions();
  const bin = (name: BinaryName) => binaryPath(name, versions);
  for (const name of controlPlaneBinaries) {
    if (!existsSync(bin(name))) throw new Error(`${bin(name)} is missing: run e2e/cluster/build.sh`);
  }

  const dir = await mkdtemp(path.join(os.tmpdir(), 'spawner-cluster-'));
  const record: RunRecord = { dir, mounts: [], extraDirs: [], processes: [], startedAt: new Date().toISOString() };
  await writeRecord(stateFile, record);
  log(`state in ${dir}`);
  const components: Component[] = [];

  const start = async (name: string, binary: string, args: string[]): Promise<Component> => {
    const logFile = path.join(dir, 'logs', `${name}.log`);
    const launched = await launch(name, binary, args, logFile);
    record.processes.push({ name, pid: launched.pid, bin: binary, args, logFile });
    await writeRecord(stateFile, record);
    const component = { name, logFile, exit: launched.exit };
    components.push(component);
    log(`started ${name}`);
    return component;
  };

  const healthy = async (c: Component, what: string, probe: () => Promise<boolean>): Promise<void> => {
    await waitFor(async () => probe(), {
      what: `${c.name} ${what}`,
      timeoutMs,
      onProgress: log,
      failFast: () => {
        const why = c.exit();
        return why ? `${c.name} ${why}; last lines of ${c.logFile}:\n${tail(c.logFile)}` : undefined;
      },
    });
    log(`${c.name} ${what}`);
  };

  const allIdentities = realNode ? [...identities, ...realNodeIdentities(layout)] : identities;
  try {
    if (realNode) {
      await claimRealNode(stateFile, dir);
      record.node = realNodeRecord(dir, layout, bin('kube-proxy'));
      await writeRecord(stateFile, record);
      await prepareHostNetwork(layout, log, serviceCIDR);
    }
    const pki = await makePki(path.join(dir, 'pki'), {
      serviceIP,
      clients: allIdentities,
      extraIPs: realNode ? [layout.nodeIP] : [],
    });
    log('made the PKI');
    const [etcdPort, etcdPeerPort, apiPort, cmPort, schedPort] = (await freePorts(5)) as [number, number, number, number, number];

    const etcdData = await mountTmpfs(dir, record, log);
    await writeRecord(stateFile, record);
    const etcd = await start('etcd', bin('etcd'), [
      '--name=spawner',
      `--data-dir=${path.join(etcdData, 'data')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-cluster=spawner=http://127.0.0.1:${etcdPeerPort}`,
      '--log-level=warn',
    ]);
    await healthy(etcd, 'is healthy', async () => {
      const r = await request('GET', `http://127.0.0.1:${etcdPort}/health`, { timeoutMs: 2000 });
      return r.status === 200 && (JSON.parse(r.body) as { health?: string }).health === 'true';
    });

    const apiserver = await start(
      'kube-apiserver',
      bin('kube-apiserver'),
      [
        ...apiserverArgs({ pki, etcdPort, port: apiPort, dir, advertiseAddress: realNode ? layout.nodeIP : undefined }),
        ...(options.apiserverExtraArgs ?? []),
      ],
    );
    const server = `https://127.0.0.1:${apiPort}`;
    const adminTls: TlsMaterial = {
      ca: await readFile(pki.ca.cert),
      cert: await readFile(pki.clients.admin!.cert),
      key: await readFile(pki.clients.admin!.key),
    };
    const api = (method: string, p: string, body?: unknown) =>
      request(method, server + p, {
        tls: adminTls,
        body: body === undefined ? undefined : JSON.stringify(body),
        contentType: method === 'PATCH' ? 'application/merge-patch+json' : undefined,
      });
    await healthy(apiserver, 'is live', async () => (await api('GET', '/livez')).status === 200);
    await healthy(apiserver, 'is ready', async () => {
      const r = await api('GET', '/readyz?verbose');
      if (r.status === 200) return true;
      const failing = r.body.split('\n').filter((l) => l.startsWith('[-]')).join(', ');
      throw new Error(failing || `HTTP ${r.status}`);
    });
    const version = (JSON.parse((await api('GET', '/version')).body) as { gitVersion: string }).gitVersion;

    const caData = await readBase64(pki.ca.cert);
    const kubeconfigFor = async (id: string): Promise<string> => {
      const file = path.join(dir, `${id}.kubeconfig`);
      const pair = pki.clients[id]!;
      const user = allIdentities.find((i) => i.file === id)!.user;
      await writeFile(
        file,
        renderKubeconfig({ server, caData, user, certData: await readBase64(pair.cert), keyData: await readBase64(pair.key) }),
        { mode: 0o600 },
      );
      return file;
    };
    const adminKubeconfig = await kubeconfigFor('admin');
    Object.assign(record, { kubeconfig: adminKubeconfig, server, kubectl: bin('kubectl'), version });
    await writeRecord(stateFile, record);

    const controllerManager = await start(
      'kube-controller-manager',
      bin('kube-controller-manager'),
      controllerManagerArgs({ pki, kubeconfig: await kubeconfigFor('controller-manager'), port: cmPort, dir }),
    );
    const scheduler = await start(
      'kube-scheduler',
      bin('kube-scheduler'),
      schedulerArgs({ kubeconfig: await kubeconfigFor('scheduler'), port: schedPort }),
    );
    const kwok = await start('kwok', bin('kwok'), kwokArgs({ kubeconfig: await kubeconfigFor('kwok'), stages: kwokStageFiles(versions) }));

    const nodeNames = Array.from({ length: nodes }, (_, i) => `kwok-node-${i}`);
    for (const name of nodeNames) {
      const r = await api('POST', '/api/v1/nodes', kwokNode(name));
      if (r.status !== 201) throw new Error(`creating node ${name}: HTTP ${r.status} ${r.body}`);
    }
    log(`created ${nodes} kwok node(s)`);

    const componentHealthz = (port: number) => async () =>
      (await request('GET', `https://127.0.0.1:${port}/healthz`, { tls: { insecure: true }, timeoutMs: 2000 })).status === 200;
    await healthy(controllerManager, 'is healthy', componentHealthz(cmPort));
    await healthy(scheduler, 'is healthy', componentHealthz(schedPort));
    await healthy(kwok, `has made ${nodes} node(s) Ready`, async () => {
      const r = await api('GET', `/api/v1/nodes?labelSelector=${kwokNodeLabel}%3Dkwok`);
      const items = (JSON.parse(r.body) as { items: NodeLike[] }).items;
      const pending = nodeNames.filter((n) => !items.some((i) => i.metadata?.name === n && nodeSchedulable(i)));
      if (pending.length > 0) throw new Error(`not schedulable yet: ${pending.join(', ')}`);
      return true;
    });
    // The ServiceAccount admission plugin rejects pods until the namespace's default account exists.
    await healthy(controllerManager, 'has made the default service account', async () => {
      return (await api('GET', '/api/v1/namespaces/default/serviceaccounts/default')).status === 200;
    });

    const crdPaths = options.crdPaths ?? crdPathsFromEnv() ?? defaultCrdPaths.filter((p) => existsSync(p));
    if (options.crdPaths === undefined && process.env.SPAWNER_CLUSTER_CRDS === undefined && crdPaths.length < defaultCrdPaths.length) {
      const missing = defaultCrdPaths.filter((p) => !crdPaths.includes(p)).map((p) => path.relative(process.cwd(), p));
      log(`not installed: ${missing.join(', ')} absent (npm run generate makes them)`);
    }
    for (const crd of crdPaths) {
      const kubectl = (args: string[]) => execa(bin('kubectl'), ['--kubeconfig', adminKubeconfig, ...args], { stdin: 'ignore' });
      const applied = await kubectl(['apply', '--server-side', '--force-conflicts', '-o', 'name', '-f', crd]);
      // Polled here rather than with `kubectl wait --for=condition=Established`, which fails outright
      // ("status.conditions accessor error: <nil>") when it reads the definition before its status exists.
      for (const ref of applied.stdout.split('\n').filter(Boolean)) {
        const name = ref.slice(ref.lastIndexOf('/') + 1);
        await healthy(apiserver, `has established ${name}`, async () => {
          const r = await api('GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`);
          if (r.status !== 200) return false;
          const crdObject = JSON.parse(r.body) as { status?: { conditions?: Array<{ type: string; status: string }> } };
          return crdObject.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ?? false;
        });
      }
      log(`installed ${path.relative(process.cwd(), crd)}`);
    }

    if (realNode) {
      await joinRealNode({
        dir,
        layout,
        caFile: pki.ca.cert,
        kubeconfigFor,
        start,
        healthy,
        api,
        binaries: { kubelet: bin('kubelet'), kubeProxy: bin('kube-proxy'), coredns: bin('coredns'), kubectl: bin('kubectl') },
        adminKubeconfig,
        serviceCIDR,
        fakeNodes: nodeNames,
        log,
      });
    }

    record.ready = true;
    await writeRecord(stateFile, record);
    log(`cluster ${version} ready at ${server} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
    return {
      stateFile,
      dir,
      kubeconfig: adminKubeconfig,
      server,
      kubectl: bin('kubectl'),
      version,
      nodes: nodeNames,
      realNode: realNode ? layout.nodeName : undefined,
    };
  } catch (err) {
    for (const c of components) {
      if (c.exit()) log(`${c.name} ${c.exit()}; last lines of ${c.logFile}:\n${tail(c.logFile)}`);
    }
    if (process.env.SPAWNER_KEEP_FAILED_CLUSTER) {
      log(`SPAWNER_KEEP_FAILED_CLUSTER set: leaving ${dir} and its processes for inspection (down cleans them)`);
    } else {
      log('start-up failed; cleaning up');
      await cleanRecord(stateFile, record, log);
    }
    throw err;
  }
}

export interface DownOptions {
  stateFile?: string;
  log?: (line: string) => void;
}

/** Stops every process of the recorded run, unmounts its tmpfs and removes its folder. */
export async function down(options: DownOptions = {}): Promise<boolean> {
  const log = options.log ?? defaultLog;
  const stateFile = options.stateFile ?? defaultStateFile();
  const record = readRecord(stateFile);
  if (!record) {
    log(`no cluster recorded in ${stateFile}`);
    return false;
  }
  await cleanRecord(stateFile, record, log);
  log(`stopped the cluster in ${record.dir}`);
  return true;
}

/** The running cluster as recorded, if `up` finished. */
export function current(stateFile: string = defaultStateFile()): RunRecord | undefined {
  const record = readRecord(stateFile);
  return record?.ready ? record : undefined;
}

export type ComponentName =
  | 'etcd'
  | 'kube-apiserver'
  | 'kube-controller-manager'
  | 'kube-scheduler'
  | 'kwok'
  // A real node's, with `up --real-node`:
  | 'containerd'
  | 'coredns'
  | 'kubelet'
  | 'kube-proxy';

/** The value of `--flag=value` in an argument list. */
export function flagValue(args: string[], flag: string): string | undefined {
  const prefix = `--${flag}=`;
  return args.find((a) => a.startsWith(prefix))?.slice(prefix.length);
}

async function probeFor(name: string, args: string[], record: RunRecord): Promise<() => Promise<boolean>> {
  switch (name) {
    case 'etcd': {
      const url = flagValue(args, 'listen-client-urls');
      return async () => (await request('GET', `${url}/health`, { timeoutMs: 2000 })).status === 200;
    }
    case 'kube-apiserver': {
      const pkiDir = path.join(record.dir, 'pki');
      const tls: TlsMaterial = {
        ca: await readFile(path.join(pkiDir, 'ca.crt')),
        cert: await readFile(path.join(pkiDir, 'admin.crt')),
        key: await readFile(path.join(pkiDir, 'admin.key')),
      };
      return async () => (await request('GET', `${record.server}/readyz`, { tls, timeoutMs: 5000 })).status === 200;
    }
    case 'kube-controller-manager':
    case 'kube-scheduler': {
      const port = flagValue(args, 'secure-port');
      return async () =>
        (await request('GET', `https://127.0.0.1:${port}/healthz`, { tls: { insecure: true }, timeoutMs: 2000 })).status === 200;
    }
    case 'kubelet':
      return async () =>
        (await request('GET', `http://127.0.0.1:${defaultLayout.kubeletHealthzPort}/healthz`, { timeoutMs: 2000 })).status === 200;
    case 'kube-proxy':
      return async () =>
        (await request('GET', `http://127.0.0.1:${defaultLayout.kubeProxyHealthzPort}/healthz`, { timeoutMs: 2000 })).status === 200;
    default:
      // kwok serves nothing: alive is all that can be checked.
      return async () => true;
  }
}

function recordedComponent(name: ComponentName, stateFile: string): { record: RunRecord; index: number } {
  const record = readRecord(stateFile);
  if (!record?.ready) throw new Error(`no running cluster recorded in ${stateFile}`);
  const index = record.processes.findIndex((p) => p.name === name);
  if (index < 0 || !record.processes[index]!.args) throw new Error(`${name} is not recorded with its arguments in ${stateFile}`);
  return { record, index };
}

/** Stops one component (SIGTERM, then SIGKILL), e.g. to take the API server away from the operator. */
export async function stopComponent(name: ComponentName, options: DownOptions = {}): Promise<void> {
  const stateFile = options.stateFile ?? defaultStateFile();
  const { record, index } = recordedComponent(name, stateFile);
  await stopProcess(record.processes[index]!, options.log ?? defaultLog, 10_000);
}

/**
 * Starts a stopped component again with the same arguments (same ports, certificates and data) and
 * waits until it is healthy. Starting one that still runs is refused.
 */
export async function startComponent(name: ComponentName, options: DownOptions & { timeoutMs?: number } = {}): Promise<void> {
  const stateFile = options.stateFile ?? defaultStateFile();
  const { record, index } = recordedComponent(name, stateFile);
  const p = record.processes[index]!;
  if (await runs(p.pid, p.bin)) throw new Error(`${name} is still running (pid ${p.pid})`);
  const logFile = p.logFile ?? path.join(record.dir, 'logs', `${name}.log`);
  const launched = await launch(name, p.bin, p.args!, logFile);
  record.processes[index] = { ...p, pid: launched.pid };
  await writeRecord(stateFile, record);
  const probe = await probeFor(name, p.args!, record);
  await waitFor(probe, {
    what: `${name} to be healthy again`,
    timeoutMs: options.timeoutMs ?? 120_000,
    onProgress: options.log ?? defaultLog,
    failFast: () => {
      const why = launched.exit();
      return why ? `${name} ${why}; last lines of ${logFile}:\n${tail(logFile)}` : undefined;
    },
  });
}

export async function restartComponent(name: ComponentName, options: DownOptions & { timeoutMs?: number } = {}): Promise<void> {
  await stopComponent(name, options);
  await startComponent(name, options);
}
