// Helpers for integration tests: the harness's kubeconfig, API clients, polling, impersonation.
import { writeFile } from 'node:fs/promises';
import {
  ApiextensionsV1Api,
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  RbacAuthorizationV1Api,
} from '@kubernetes/client-node';
import { execa } from 'execa';
import { binaryPath } from './binaries.ts';

export { waitFor } from './wait.ts';
export type { WaitOptions } from './wait.ts';

/** The kubeconfig jest-global-setup (or the caller) put in KUBECONFIG. */
export function loadKubeConfig(file: string | undefined = process.env.KUBECONFIG): KubeConfig {
  if (!file) throw new Error('KUBECONFIG is not set: run the integration project (its global setup starts a cluster)');
  const kc = new KubeConfig();
  kc.loadFromFile(file);
  return kc;
}

export function apiClients(kc: KubeConfig = loadKubeConfig()) {
  return {
    core: kc.makeApiClient(CoreV1Api),
    apps: kc.makeApiClient(AppsV1Api),
    apiextensions: kc.makeApiClient(ApiextensionsV1Api),
    custom: kc.makeApiClient(CustomObjectsApi),
    rbac: kc.makeApiClient(RbacAuthorizationV1Api),
    coordination: kc.makeApiClient(CoordinationV1Api),
  };
}

export function serviceAccountUser(namespace: string, name: string): string {
  return `system:serviceaccount:${namespace}:${name}`;
}

/**
 * A kubeconfig that acts as a service account: the admin credentials plus impersonation, which the
 * API server resolves to the account's user and groups, so RBAC is evaluated as for the real account.
 */
export function impersonating(base: KubeConfig, namespace: string, name: string): KubeConfig {
  const cluster = base.getCurrentCluster();
  const user = base.getCurrentUser();
  if (!cluster || !user) throw new Error('the base kubeconfig has no current cluster or user');
  const as = serviceAccountUser(namespace, name);
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [cluster],
    users: [{ ...user, name: as, impersonateUser: as }],
    contexts: [{ name: as, cluster: cluster.name, user: as, namespace }],
    currentContext: as,
  });
  return kc;
}

/** Writes a kubeconfig, e.g. to start the operator as a separate process with KUBECONFIG=file. */
export async function writeKubeconfig(kc: KubeConfig, file: string): Promise<string> {
  await writeFile(file, kc.exportConfig(), { mode: 0o600 });
  return file;
}

/** The kubectl built for the harness (SPAWNER_TEST_KUBECTL from global setup, else the cache path). */
export function kubectlPath(): string {
  return process.env.SPAWNER_TEST_KUBECTL || binaryPath('kubectl');
}

/** Runs kubectl against KUBECONFIG (or `kubeconfig`) and returns its stdout; throws on failure. */
export async function kubectl(args: string[], options: { kubeconfig?: string; input?: string } = {}): Promise<string> {
  const kubeconfig = options.kubeconfig ?? process.env.KUBECONFIG;
  if (!kubeconfig) throw new Error('KUBECONFIG is not set');
  const r = await execa(kubectlPath(), ['--kubeconfig', kubeconfig, ...args], {
    input: options.input,
    stdin: options.input === undefined ? 'ignore' : undefined,
  });
  return r.stdout;
}

/** HTTP status of a client-node error (1.x/2.x put it in `code`), or undefined. */
export function statusOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}
