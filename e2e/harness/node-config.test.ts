import { describe, expect, test } from '@jest/globals';
import { cniConflist, containerdConfig, corefile, defaultLayout, kubeletArgs, kubeletConfig, kubeProxyConfig } from './node-config.ts';

const layout = defaultLayout;

describe('real node configuration', () => {
  test('the kubelet: cgroupfs, no swap check, images never collected, cluster DNS, containerd socket', () => {
    const c = JSON.parse(kubeletConfig({ layout, caFile: '/pki/ca.crt' }));
    expect(c).toMatchObject({
      kind: 'KubeletConfiguration',
      cgroupDriver: 'cgroupfs',
      failSwapOn: false,
      imageGCHighThresholdPercent: 100,
      clusterDNS: [layout.clusterDNS],
      clusterDomain: 'cluster.local',
      containerRuntimeEndpoint: `unix://${layout.containerdSocket}`,
      authentication: { anonymous: { enabled: false }, x509: { clientCAFile: '/pki/ca.crt' } },
    });
    expect(c.imageGCLowThresholdPercent).toBeLessThan(c.imageGCHighThresholdPercent);
  });

  test('the kubelet registers with the node address, never loopback, and the real-node label', () => {
    const args = kubeletArgs({ layout, configFile: '/c', kubeconfig: '/k', rootDir: '/r' });
    expect(args).toContain(`--node-ip=${layout.nodeIP}`);
    expect(layout.nodeIP.startsWith('127.')).toBe(false);
    expect(args).toContain('--node-labels=spawner.dev/real-node=true');
  });

  test('containerd: our sandbox image, cgroupfs for runc, scores no lower than its own, CNI from our folder', () => {
    const toml = containerdConfig({ layout, stateDir: '/s', cniConfDir: '/cni' });
    for (const line of [
      `sandbox_image = "${layout.sandboxImage}"`,
      'SystemdCgroup = false',
      'restrict_oom_score_adj = true',
      'conf_dir = "/cni"',
      `address = "${layout.containerdSocket}"`,
    ]) {
      expect(toml).toContain(line);
    }
  });

  test('CNI: a bridge with host-local addresses in the pod subnet, then portmap for host ports', () => {
    const c = JSON.parse(cniConflist({ layout, ipamDataDir: '/ipam' }));
    expect(c.plugins.map((p: { type: string }) => p.type)).toEqual(['bridge', 'portmap']);
    expect(c.plugins[0]).toMatchObject({ bridge: layout.bridge, isGateway: true, ipMasq: true, ipam: { type: 'host-local', dataDir: '/ipam' } });
    expect(c.plugins[0].ipam.ranges[0][0]).toEqual({ subnet: layout.podSubnet, gateway: layout.bridgeIP });
  });

  test('kube-proxy in iptables mode; CoreDNS serves the cluster domain on the node address', () => {
    expect(JSON.parse(kubeProxyConfig({ layout, kubeconfig: '/k', clusterCIDR: layout.podSubnet }))).toMatchObject({
      mode: 'iptables',
      hostnameOverride: layout.nodeName,
    });
    const core = corefile({ layout, kubeconfig: '/k' });
    expect(core).toContain(`bind ${layout.nodeIP}`);
    expect(core).toContain('kubernetes cluster.local in-addr.arpa ip6.arpa');
  });
});
