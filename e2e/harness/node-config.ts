// Pure renderers for the real node's configuration files: containerd, CNI, kubelet, kube-proxy and
// CoreDNS. Kept apart from the I/O in node.ts so each can be read (and unit-tested) on its own.

/** Addresses and names the real node uses; one node per machine, so they are fixed. */
export interface RealNodeLayout {
  nodeName: string;
  /** Host address the node registers with: on a dummy interface, never loopback. */
  nodeIP: string;
  dummyInterface: string;
  bridge: string;
  /** Pod addresses handed out by host-local on the bridge; the bridge has the first one. */
  podSubnet: string;
  bridgeIP: string;
  clusterDNS: string;
  clusterDomain: string;
  /** Stable so `images/build.sh` can import into it without reading the run record. */
  containerdSocket: string;
  /** Persistent, so imported images survive `down`/`up`. */
  containerdRoot: string;
  sandboxImage: string;
  kubeletHealthzPort: number;
  kubeletPort: number;
  kubeProxyHealthzPort: number;
  kubeProxyMetricsPort: number;
}

export const realNodeLabel = 'spawner.dev/real-node';
/** kwok's fake nodes carry this taint once a real node exists, so real pods never land on them. */
export const fakeNodeTaint = { key: 'spawner.dev/fake-node', value: 'true', effect: 'NoSchedule' };

export const defaultLayout: RealNodeLayout = {
  nodeName: 'spawner-node',
  nodeIP: '10.245.0.1',
  dummyInterface: 'spawner-node0',
  bridge: 'spawner-br0',
  podSubnet: '10.244.0.0/24',
  bridgeIP: '10.244.0.1',
  clusterDNS: '10.96.0.10',
  clusterDomain: 'cluster.local',
  containerdSocket: '/run/spawner/containerd/containerd.sock',
  containerdRoot: '/var/lib/spawner/containerd',
  sandboxImage: 'localhost/spawner/pause:0.1.0',
  kubeletHealthzPort: 10248,
  kubeletPort: 10250,
  kubeProxyHealthzPort: 10256,
  kubeProxyMetricsPort: 10249,
};

export function containerdConfig(o: { layout: RealNodeLayout; stateDir: string; cniConfDir: string }): string {
  const l = o.layout;
  return `# Written by e2e/harness/node.ts for the real test node.
version = 2
root = "${l.containerdRoot}"
state = "${o.stateDir}"

[grpc]
  address = "${l.containerdSocket}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${l.sandboxImage}"
  enable_selinux = false
  disable_apparmor = true
  # The kubelet asks for negative OOM scores (-998 for sandboxes), which this VM refuses
  # (no CAP_SYS_RESOURCE over its own score): keep each score at least containerd's own.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        # cgroup v1 without systemd as PID 1: the cgroupfs driver, as the kubelet.
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${o.cniConfDir}"
`;
}

export function cniConflist(o: { layout: RealNodeLayout; ipamDataDir: string }): string {
  const l = o.layout;
  return JSON.stringify(
    {
      cniVersion: '0.4.0',
      name: 'spawner',
      plugins: [
        {
          type: 'bridge',
          bridge: l.bridge,
          isGateway: true,
          ipMasq: true,
          // A pod reaching its own Service address is sent back to itself through the bridge.
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            dataDir: o.ipamDataDir,
            ranges: [[{ subnet: l.podSubnet, gateway: l.bridgeIP }]],
            routes: [{ dst: '0.0.0.0/0' }],
          },
        },
        { type: 'portmap', capabilities: { portMappings: true }, snat: true },
      ],
    },
    null,
    2,
  );
}

export function kubeletConfig(o: { layout: RealNodeLayout; caFile: string }): string {
  const l = o.layout;
  return JSON.stringify(
    {
      apiVersion: 'kubelet.config.k8s.io/v1beta1',
      kind: 'KubeletConfiguration',
      address: '0.0.0.0',
      port: l.kubeletPort,
      readOnlyPort: 0,
      healthzBindAddress: '127.0.0.1',
      healthzPort: l.kubeletHealthzPort,
      authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: o.caFile } },
      authorization: { mode: 'Webhook' },
      containerRuntimeEndpoint: `unix://${l.containerdSocket}`,
      cgroupDriver: 'cgroupfs',
      failSwapOn: false,
      clusterDNS: [l.clusterDNS],
      clusterDomain: l.clusterDomain,
      // Images are imported, never pulled: garbage collection must never remove them.
      imageGCHighThresholdPercent: 100,
      imageGCLowThresholdPercent: 99,
      // A shared test VM runs low on disk and memory at times; only evict when truly out.
      evictionHard: { 'memory.available': '50Mi', 'nodefs.available': '1%', 'imagefs.available': '1%', 'nodefs.inodesFree': '1%' },
      evictionPressureTransitionPeriod: '10s',
      serializeImagePulls: false,
      maxPods: 250,
      podCIDR: l.podSubnet,
      resolvConf: '/etc/resolv.conf',
      // Fast feedback for tests: status reaches the API server quickly.
      nodeStatusUpdateFrequency: '4s',
      syncFrequency: '10s',
      fileCheckFrequency: '20s',
      runtimeRequestTimeout: '2m',
      protectKernelDefaults: false,
      makeIPTablesUtilChains: true,
      shutdownGracePeriod: '0s',
      localStorageCapacityIsolation: true,
      failCgroupV1: false,
    },
    null,
    2,
  );
}

export function kubeletArgs(o: { layout: RealNodeLayout; configFile: string; kubeconfig: string; rootDir: string }): string[] {
  return [
    `--config=${o.configFile}`,
    `--kubeconfig=${o.kubeconfig}`,
    `--root-dir=${o.rootDir}`,
    `--cert-dir=${o.rootDir}/pki`,
    `--hostname-override=${o.layout.nodeName}`,
    `--node-ip=${o.layout.nodeIP}`,
    `--node-labels=${realNodeLabel}=true`,
    '--v=1',
  ];
}

export function kubeProxyConfig(o: { layout: RealNodeLayout; kubeconfig: string; clusterCIDR: string }): string {
  const l = o.layout;
  return JSON.stringify(
    {
      apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
      kind: 'KubeProxyConfiguration',
      mode: 'iptables',
      clientConnection: { kubeconfig: o.kubeconfig },
      hostnameOverride: l.nodeName,
      clusterCIDR: o.clusterCIDR,
      bindAddress: '0.0.0.0',
      healthzBindAddress: `127.0.0.1:${l.kubeProxyHealthzPort}`,
      metricsBindAddress: `127.0.0.1:${l.kubeProxyMetricsPort}`,
      // Leave the host's conntrack table sizes alone (a VM may not allow changing them).
      conntrack: { maxPerCore: 0, min: 0 },
      iptables: { syncPeriod: '10s', minSyncPeriod: '0s', localhostNodePorts: true },
    },
    null,
    2,
  );
}

/** CoreDNS runs on the host, bound to the node address; a selector-less kube-dns Service points there. */
export function corefile(o: { layout: RealNodeLayout; kubeconfig: string }): string {
  const l = o.layout;
  return `${l.clusterDomain}:53 in-addr.arpa:53 ip6.arpa:53 {
    bind ${l.nodeIP}
    errors
    health ${l.nodeIP}:8180
    kubernetes ${l.clusterDomain} in-addr.arpa ip6.arpa {
        kubeconfig ${o.kubeconfig}
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 5
    }
    # No cache for the cluster zone: answers come from CoreDNS's own watch cache anyway, and a cached
    # NXDOMAIN for a backend whose Service is being created would only delay its first request.
}
.:53 {
    bind ${l.nodeIP}
    errors
    forward . /etc/resolv.conf
    cache 30
}
`;
}
