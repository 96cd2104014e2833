// A real node for the end-to-end tier: containerd + runc + CNI from Debian's packages, the kubelet and
// kube-proxy of the pinned Kubernetes build and CoreDNS as a host process, all joined to the harness's
// control plane. cluster.ts calls prepareHostNetwork before the API server starts (the API server
// advertises the node address so pods reach it through the `kubernetes` Service) and joinRealNode once
// the control plane is healthy. node-teardown.ts undoes all of it.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { repoRoot } from './paths.ts';
import { request } from './net.ts';
import type { HttpResult } from './net.ts';
import {
  cniConflist,
  containerdConfig,
  corefile,
  defaultLayout,
  fakeNodeTaint,
  kubeletArgs,
  kubeletConfig,
  kubeProxyConfig,
} from './node-config.ts';
import type { RealNodeLayout } from './node-config.ts';
import { realNodeOwnerFile } from './node-teardown.ts';
import type { RealNodeRecord } from './node-teardown.ts';
import { criVersion } from './cri.ts';

export { defaultLayout, realNodeLabel, fakeNodeTaint } from './node-config.ts';

/** The identities a real node's components authenticate as (CN = user, O = groups). */
export function realNodeIdentities(layout: RealNodeLayout = defaultLayout) {
  return [
    { file: 'kubelet', user: `system:node:${layout.nodeName}`, groups: ['system:nodes'] },
    // Bound to system:node-proxier by the API server's bootstrap RBAC.
    { file: 'kube-proxy', user: 'system:kube-proxy', groups: [] },
    { file: 'coredns', user: 'system:spawner:coredns', groups: [] },
  ];
}

/** Host packages the node needs; `up.sh` installs them with apt-get. */
export const requiredCommands = ['containerd', 'containerd-shim-runc-v2', 'runc', 'iptables', 'iptables-save', 'conntrack', 'ip'];

async function sysctl(key: string, value: string): Promise<void> {
  await writeFile(`/proc/sys/${key.replace(/\./g, '/')}`, value).catch(() => undefined);
}

/**
 * A packet to a ClusterIP that kube-proxy has not programmed yet (a Service created a moment ago) is
 * not translated, and would follow the default route off the machine; here the VM's gateway even
 * answers it with an HTTP 404, which nginx would pass on as the backend's answer. Refuse such
 * packets instead: the client sees a refused connection, nginx its waiting page. Translated packets
 * carry a pod address by the time the filter table sees them and are not affected.
 */
export const serviceGuardChain = 'SPAWNER-SERVICES';

export async function guardServiceRange(serviceCIDR: string): Promise<void> {
  const ipt = (args: string[]) => execa('iptables', ['-w', '5', ...args], { reject: false });
  await ipt(['-N', serviceGuardChain]);
  await ipt(['-F', serviceGuardChain]);
  await ipt(['-A', serviceGuardChain, '-d', serviceCIDR, '-p', 'tcp', '-j', 'REJECT', '--reject-with', 'tcp-reset']);
  await ipt(['-A', serviceGuardChain, '-d', serviceCIDR, '-j', 'REJECT']);
  for (const chain of ['FORWARD', 'OUTPUT']) {
    if ((await ipt(['-C', chain, '-j', serviceGuardChain])).exitCode !== 0) await ipt(['-A', chain, '-j', serviceGuardChain]);
  }
}

/** The node address on a link of its own, forwarding on, bridged traffic through iptables (for Services). */
export async function prepareHostNetwork(layout: RealNodeLayout, log: (line: string) => void, serviceCIDR?: string): Promise<void> {
  for (const cmd of requiredCommands) {
    const r = await execa('sh', ['-c', `command -v ${cmd}`], { reject: false });
    if (r.exitCode !== 0) {
      throw new Error(`the real node needs '${cmd}': apt-get install containerd runc containernetworking-plugins iptables conntrack iproute2`);
    }
  }
  if (!existsSync('/usr/lib/cni/bridge')) throw new Error('the real node needs /usr/lib/cni/bridge: apt-get install containernetworking-plugins');
  await execa('ip', ['link', 'del', layout.dummyInterface], { reject: false });
  // A port-less bridge stands in for a dummy link: this kernel has no dummy driver and no modules.
  await execa('ip', ['link', 'add', layout.dummyInterface, 'type', 'bridge']);
  await execa('ip', ['addr', 'add', `${layout.nodeIP}/32`, 'dev', layout.dummyInterface]);
  await execa('ip', ['link', 'set', layout.dummyInterface, 'up']);
  await sysctl('net.ipv4.ip_forward', '1');
  await sysctl('net.bridge.bridge-nf-call-iptables', '1');
  if (serviceCIDR) await guardServiceRange(serviceCIDR);
  log(`node address ${layout.nodeIP} on ${layout.dummyInterface}`);
}


function readOwner(): { stateFile: string; dir: string } | undefined {
  try {
    return JSON.parse(readFileSync(realNodeOwnerFile, 'utf8')) as { stateFile: string; dir: string };
  } catch {
    return undefined;
  }
}

/**
 * Claims the host's real node (its addresses, ports and links are fixed, so one per host) for the run
 * in `dir`, or says which cluster holds it. A claim whose run is gone (torn down, or the machine
 * rebooted) is stale and taken over.
 */
export async function claimRealNode(stateFile: string, dir: string): Promise<void> {
  const owner = readOwner();
  if (owner && owner.dir !== dir && existsSync(owner.dir) && existsSync(owner.stateFile)) {
    throw new Error(
      `the real node is already run by the cluster recorded in ${owner.stateFile}: stop it first ` +
        `(SPAWNER_CLUSTER_STATE=${owner.stateFile} node e2e/harness/cli.ts down) or use that cluster (KUBECONFIG)`,
    );
  }
  await mkdir(path.dirname(realNodeOwnerFile), { recursive: true });
  await writeFile(realNodeOwnerFile, JSON.stringify({ stateFile, dir }) + '\n');
}

export interface JoinContext {
  dir: string;
  layout: RealNodeLayout;
  caFile: string;
  /** Writes a kubeconfig for one of realNodeIdentities() and returns its path. */
  kubeconfigFor(id: string): Promise<string>;
  /** Starts and records a supervised process (as cluster.ts starts the control plane). */
  start(name: string, binary: string, args: string[]): Promise<{ name: string; logFile: string; exit(): string | undefined }>;
  healthy(c: { name: string; logFile: string; exit(): string | undefined }, what: string, probe: () => Promise<boolean>): Promise<void>;
  api(method: string, p: string, body?: unknown): Promise<HttpResult>;
  binaries: { kubelet: string; kubeProxy: string; coredns: string; kubectl: string };
  adminKubeconfig: string;
  serviceCIDR: string;
  /** The kwok nodes to taint so real pods avoid them. */
  fakeNodes: string[];
  log(line: string): void;
}

export function realNodeRecord(dir: string, layout: RealNodeLayout, kubeProxy?: string): RealNodeRecord {
  const nodeDir = path.join(dir, 'node');
  return {
    dir: nodeDir,
    containerdSocket: layout.containerdSocket,
    containerdStateDir: path.join(nodeDir, 'containerd-state'),
    dummyInterface: layout.dummyInterface,
    bridge: layout.bridge,
    kubeProxy,
  };
}

async function ok(r: Promise<HttpResult>, what: string, accept: number[] = [200, 201]): Promise<void> {
  const res = await r;
  if (!accept.includes(res.status)) throw new Error(`${what}: HTTP ${res.status} ${res.body.slice(0, 300)}`);
}

/** Cluster objects the node's add-ons need: CoreDNS's read access and the kube-dns Service pointing at it. */
async function createDnsObjects(ctx: JoinContext): Promise<void> {
  const { api, layout } = ctx;
  const exists = [200, 201, 409];
  await ok(
    api('POST', '/apis/rbac.authorization.k8s.io/v1/clusterroles', {
      metadata: { name: 'spawner:coredns' },
      rules: [
        { apiGroups: [''], resources: ['endpoints', 'services', 'pods', 'namespaces'], verbs: ['list', 'watch'] },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
      ],
    }),
    'creating the CoreDNS ClusterRole',
    exists,
  );
  await ok(
    api('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
      metadata: { name: 'spawner:coredns' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'spawner:coredns' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'system:spawner:coredns' }],
    }),
    'binding the CoreDNS ClusterRole',
    exists,
  );
  const ports = [
    { name: 'dns', port: 53, protocol: 'UDP' },
    { name: 'dns-tcp', port: 53, protocol: 'TCP' },
  ];
  await ok(
    api('POST', '/api/v1/namespaces/kube-system/services', {
      metadata: { name: 'kube-dns', labels: { 'k8s-app': 'kube-dns' } },
      spec: { clusterIP: layout.clusterDNS, ports: ports.map((p) => ({ ...p, targetPort: 53 })) },
    }),
    'creating the kube-dns Service',
    exists,
  );
  // No selector: CoreDNS is a host process, so its endpoint is written here, once.
  await ok(
    api('POST', '/apis/discovery.k8s.io/v1/namespaces/kube-system/endpointslices', {
      metadata: {
        name: 'kube-dns-host',
        labels: { 'kubernetes.io/service-name': 'kube-dns', 'endpointslice.kubernetes.io/managed-by': 'harness.spawner.dev' },
      },
      addressType: 'IPv4',
      endpoints: [{ addresses: [layout.nodeIP], conditions: { ready: true }, nodeName: layout.nodeName }],
      ports,
    }),
    'creating the kube-dns EndpointSlice',
    exists,
  );
}

async function taintFakeNodes(ctx: JoinContext): Promise<void> {
  for (const name of ctx.fakeNodes) {
    const r = await ctx.api('GET', `/api/v1/nodes/${name}`);
    if (r.status !== 200) continue;
    const node = JSON.parse(r.body) as { spec?: { taints?: { key: string }[] } };
    const taints = (node.spec?.taints ?? []).filter((t) => t.key !== fakeNodeTaint.key);
    // A JSON merge patch replaces the whole list; kwok adds no taints of its own.
    await ok(
      ctx.api('PATCH', `/api/v1/nodes/${name}`, { spec: { taints: [...taints, fakeNodeTaint] } }),
      `tainting ${name}`,
    );
  }
}

/** Makes sure the sandbox image is in containerd, building and importing it with images/build.sh if not. */
async function ensureSandboxImage(ctx: JoinContext): Promise<void> {
  const { layout } = ctx;
  const ctr = (args: string[]) => execa('ctr', ['--address', layout.containerdSocket, '-n', 'k8s.io', ...args], { reject: false });
  const listed = await ctr(['images', 'ls', '-q']);
  if (listed.stdout.split('\n').includes(layout.sandboxImage)) return;
  ctx.log(`importing the sandbox image ${layout.sandboxImage}`);
  await execa('bash', [path.join(repoRoot, 'images', 'build.sh'), 'pause'], {
    stdio: ['ignore', 2, 2],
    env: { SPAWNER_CONTAINERD_SOCKET: layout.containerdSocket },
  });
  const again = await ctr(['images', 'ls', '-q']);
  if (!again.stdout.split('\n').includes(layout.sandboxImage)) throw new Error(`${layout.sandboxImage} is still not in containerd`);
}

export async function joinRealNode(ctx: JoinContext): Promise<void> {
  const { layout, dir, log } = ctx;
  const nodeDir = path.join(dir, 'node');
  const rec = realNodeRecord(dir, layout, ctx.binaries.kubeProxy);
  const cniConfDir = path.join(nodeDir, 'cni');
  await mkdir(cniConfDir, { recursive: true });
  await mkdir(path.dirname(layout.containerdSocket), { recursive: true });
  await mkdir(layout.containerdRoot, { recursive: true });

  // containerd
  const containerdToml = path.join(nodeDir, 'containerd.toml');
  await writeFile(containerdToml, containerdConfig({ layout, stateDir: rec.containerdStateDir, cniConfDir }));
  await writeFile(path.join(cniConfDir, '10-spawner.conflist'), cniConflist({ layout, ipamDataDir: path.join(nodeDir, 'ipam') }));
  const containerd = await ctx.start('containerd', (await execa('sh', ['-c', 'command -v containerd'])).stdout.trim(), [
    `--config=${containerdToml}`,
    '--log-level=warn',
  ]);
  await ctx.healthy(containerd, 'is serving', async () => {
    const r = await execa('ctr', ['--address', layout.containerdSocket, 'version'], { reject: false });
    if (r.exitCode !== 0) throw new Error(r.stderr.trim());
    return true;
  });
  // Its CRI plugin initialises after that: a kubelet started before it exits at once (cri.ts).
  await ctx.healthy(containerd, 'serves the CRI', async () => {
    const answer = await criVersion(layout.containerdSocket);
    if (!answer.ok) throw new Error(answer.message);
    return true;
  });
  await ensureSandboxImage(ctx);

  // CoreDNS, on the host
  await createDnsObjects(ctx);
  const corefilePath = path.join(nodeDir, 'Corefile');
  await writeFile(corefilePath, corefile({ layout, kubeconfig: await ctx.kubeconfigFor('coredns') }));
  const coredns = await ctx.start('coredns', ctx.binaries.coredns, ['-conf', corefilePath]);

  // kubelet
  const kubeletYaml = path.join(nodeDir, 'kubelet.json');
  await writeFile(kubeletYaml, kubeletConfig({ layout, caFile: ctx.caFile }));
  const kubelet = await ctx.start(
    'kubelet',
    ctx.binaries.kubelet,
    kubeletArgs({ layout, configFile: kubeletYaml, kubeconfig: await ctx.kubeconfigFor('kubelet'), rootDir: path.join(nodeDir, 'kubelet') }),
  );

  // kube-proxy
  const proxyYaml = path.join(nodeDir, 'kube-proxy.json');
  await writeFile(
    proxyYaml,
    kubeProxyConfig({ layout, kubeconfig: await ctx.kubeconfigFor('kube-proxy'), clusterCIDR: layout.podSubnet }),
  );
  const kubeProxy = await ctx.start('kube-proxy', ctx.binaries.kubeProxy, [`--config=${proxyYaml}`]);

  await ctx.healthy(coredns, 'is healthy', async () => {
    return (await request('GET', `http://${layout.nodeIP}:8180/health`, { timeoutMs: 2000 })).status === 200;
  });
  await ctx.healthy(kubelet, 'is healthy', async () => {
    return (await request('GET', `http://127.0.0.1:${layout.kubeletHealthzPort}/healthz`, { timeoutMs: 2000 })).status === 200;
  });
  await ctx.healthy(kubeProxy, 'is healthy', async () => {
    return (await request('GET', `http://127.0.0.1:${layout.kubeProxyHealthzPort}/healthz`, { timeoutMs: 2000 })).status === 200;
  });
  await taintFakeNodes(ctx);
  await ctx.healthy(kubelet, `has made node ${layout.nodeName} Ready`, async () => {
    const r = await ctx.api('GET', `/api/v1/nodes/${layout.nodeName}`);
    if (r.status !== 200) throw new Error(`node not registered yet (HTTP ${r.status})`);
    const node = JSON.parse(r.body) as { status?: { conditions?: { type: string; status: string; message?: string }[] } };
    const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
    if (ready?.status !== 'True') throw new Error(ready?.message ?? 'no Ready condition yet');
    return true;
  });
  log(`real node ${layout.nodeName} is Ready at ${layout.nodeIP}`);
}
