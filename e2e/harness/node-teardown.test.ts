import { describe, expect, test } from '@jest/globals';
import { chainsToRemove, mountsUnder, splitRule } from './node-teardown.ts';

describe('mountsUnder', () => {
  const table = [
    'overlay /tmp/spawner-cluster-a/node/containerd-state/io.containerd.runtime.v2.task/k8s.io/abc/rootfs overlay rw 0 0',
    'tmpfs /tmp/spawner-cluster-a/node/kubelet/pods/u1/volumes/kubernetes.io~projected/kube-api-access tmpfs rw 0 0',
    'shm /tmp/spawner-cluster-a/node/containerd-state/io.containerd.grpc.v1.cri/sandboxes/x/shm tmpfs rw 0 0',
    'spawner-etcd /tmp/spawner-cluster-b/etcd tmpfs rw 0 0',
    'tmpfs /tmp/spawner-cluster-ab/node/x tmpfs rw 0 0',
    'tmpfs /tmp/spawner-cluster-a/node/with\\040space tmpfs rw 0 0',
  ].join('\n');

  test.each([
    ['only mounts under the prefix, not a sibling sharing its start', ['/tmp/spawner-cluster-a/node'], 4],
    ['none under an unrelated folder', ['/var/lib/other'], 0],
  ])('%s', (_label, prefixes, count) => {
    const found = mountsUnder(table, prefixes);
    expect(found).toHaveLength(count);
    expect(found.every((p) => prefixes.some((pre) => p.startsWith(pre + '/')))).toBe(true);
  });

  test('deepest first, and octal escapes decoded', () => {
    const found = mountsUnder(table, ['/tmp/spawner-cluster-a/node']);
    expect(found[0]!.length).toBeGreaterThanOrEqual(found[found.length - 1]!.length);
    expect(found).toContain('/tmp/spawner-cluster-a/node/with space');
  });
});

describe('chainsToRemove', () => {
  const save = [
    '*filter',
    ':INPUT ACCEPT [0:0]',
    ':KUBE-FIREWALL - [0:0]',
    ':DOCKER-USER - [0:0]',
    '-A INPUT -j KUBE-FIREWALL',
    '-A INPUT -j DOCKER-USER',
    '-A KUBE-FIREWALL -d 127.0.0.0/8 -j DROP',
    'COMMIT',
    '*nat',
    ':POSTROUTING ACCEPT [0:0]',
    ':CNI-abc - [0:0]',
    '-A POSTROUTING -s 10.244.0.2/32 -m comment --comment "name: \\"spawner\\" id: \\"x\\"" -j CNI-abc',
    '-A CNI-abc -d 10.244.0.0/24 -j ACCEPT',
    'COMMIT',
    '*mangle',
    ':PREROUTING ACCEPT [0:0]',
    'COMMIT',
  ].join('\n');

  test('our chains and the jumps into them from other chains, table by table; nothing else', () => {
    expect(chainsToRemove(save)).toEqual([
      { table: 'filter', chains: ['KUBE-FIREWALL'], rules: ['INPUT -j KUBE-FIREWALL'] },
      {
        table: 'nat',
        chains: ['CNI-abc'],
        rules: ['POSTROUTING -s 10.244.0.2/32 -m comment --comment "name: \\"spawner\\" id: \\"x\\"" -j CNI-abc'],
      },
    ]);
  });

  test('a quoted comment splits back into one argument', () => {
    expect(splitRule('POSTROUTING -m comment --comment "name: \\"spawner\\" id: \\"x\\"" -j CNI-abc')).toEqual([
      'POSTROUTING', '-m', 'comment', '--comment', 'name: "spawner" id: "x"', '-j', 'CNI-abc',
    ]);
  });
});
