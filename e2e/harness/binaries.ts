import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { cacheDir, repoRoot } from './paths.ts';

export const clusterDir = path.join(repoRoot, 'e2e', 'cluster');
export const buildScript = path.join(clusterDir, 'build.sh');

/** The version a go.mod requires for `modulePath`, in either `require x v` or block form. */
export function requiredVersion(goMod: string, modulePath: string): string | undefined {
  for (const raw of goMod.split('\n')) {
    const line = raw.replace(/\/\/.*$/, '').trim();
    const words = line.split(/\s+/);
    if (words[0] === 'require' && words[1] === modulePath && words[2]?.startsWith('v')) return words[2];
    if (words[0] === modulePath && words[1]?.startsWith('v') && words.length === 2) return words[1];
  }
  return undefined;
}

export interface PinnedVersions {
  kubernetes: string;
  etcd: string;
  kwok: string;
  coredns: string;
}

function pinned(module: 'k8s' | 'etcd' | 'kwok' | 'coredns', modulePath: string): string {
  const file = path.join(clusterDir, module, 'go.mod');
  const version = requiredVersion(readFileSync(file, 'utf8'), modulePath);
  if (!version) throw new Error(`${file} does not require ${modulePath}`);
  return version;
}

export function pinnedVersions(): PinnedVersions {
  return {
    kubernetes: pinned('k8s', 'k8s.io/kubernetes'),
    etcd: pinned('etcd', 'go.etcd.io/etcd/server/v3'),
    kwok: pinned('kwok', 'sigs.k8s.io/kwok'),
    coredns: pinned('coredns', 'github.com/coredns/coredns'),
  };
}

export type BinaryName =
  | 'kube-apiserver'
  | 'kube-controller-manager'
  | 'kube-scheduler'
  | 'kubectl'
  | 'kubelet'
  | 'kube-proxy'
  | 'etcd'
  | 'kwok'
  | 'coredns';

export const controlPlaneBinaries: BinaryName[] = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kubectl',
  'kwok',
];

/** What a real node runs besides containerd (up --real-node). */
export const realNodeBinaries: BinaryName[] = ['kubelet', 'kube-proxy', 'coredns'];

/** Same layout as build.sh's bin_dir. */
export function binaryPath(name: BinaryName, versions: PinnedVersions = pinnedVersions()): string {
  const dir =
    name === 'etcd'
      ? `etcd-${versions.etcd}`
      : name === 'kwok'
        ? `kwok-${versions.kwok}`
        : name === 'coredns'
          ? `coredns-${versions.coredns}`
          : `k8s-${versions.kubernetes}`;
  return path.join(cacheDir, 'bin', dir, name);
}

/** kwok's Stage definitions, copied next to its binary by build.sh. */
export function kwokStageFiles(versions: PinnedVersions = pinnedVersions()): string[] {
  const dir = path.join(path.dirname(binaryPath('kwok', versions)), 'stages');
  return ['node-initialize', 'node-heartbeat-with-lease', 'pod-ready', 'pod-complete', 'pod-delete'].map((n) =>
    path.join(dir, `${n}.yaml`),
  );
}

/**
 * Builds whatever is missing (build.sh skips what is present). A cold build takes many minutes, so
 * its progress goes straight to stderr.
 */
export async function ensureBinaries(names: BinaryName[], log: (line: string) => void): Promise<void> {
  const versions = pinnedVersions();
  const missing = names.filter((n) => !existsSync(binaryPath(n, versions)));
  const stagesMissing = names.includes('kwok') && kwokStageFiles(versions).some((f) => !existsSync(f));
  if (missing.length === 0 && !stagesMissing) return;
  const toBuild = missing.length > 0 ? missing : ['kwok'];
  log(`building ${toBuild.join(', ')} with ${path.relative(process.cwd(), buildScript) || buildScript}`);
  // Progress goes to stderr so stdout stays clean for `cli.ts env`-style consumers.
  await execa('bash', [buildScript, ...toBuild], { stdio: ['ignore', 2, 2] });
}
