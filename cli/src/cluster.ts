// The CLI's connection to the cluster: which kubeconfig, context and namespace, and every API request
// with its failure turned into a CliError a person can act on (kube-errors.ts). The only I/O module
// that talks to the API server.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION } from '../../common/contract.ts';
import { createInformer, type Informer } from '../../common/kube/informer.ts';
import { requestJson } from '../../common/kube/rest.ts';
import { createLogger } from '../../common/log.ts';
import type { SessionLivedBackend, SessionLivedBackendList } from '../../common/spawner/types.ts';
import { CliError, EXIT, UsageError } from './errors.ts';
import { describeKubeError, type ErrorLike, type RequestContext } from './kube-errors.ts';
import type { GlobalOptions } from './options.ts';

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';
const NO_KUBECONFIG_HINT = 'point KUBECONFIG or --kubeconfig at a kubeconfig file (e.g. the one `kind get kubeconfig` or your cloud CLI writes)';

export interface Cluster {
  kc: KubeConfig;
  server: string;
  context?: string;
  namespace: string; // -n, else the context's namespace, else default
  requestTimeoutMs: number;
}

// Which kubeconfig files apply, in kubectl's order: --kubeconfig, $KUBECONFIG (a list), ~/.kube/config.
export function kubeconfigFiles(flag: string | undefined, env: Record<string, string | undefined>, home: string): { files: string[]; source: string } {
  if (flag !== undefined) return { files: [flag], source: '--kubeconfig' };
  const list = (env.KUBECONFIG ?? '').split(delimiter).filter(Boolean);
  if (list.length) return { files: list, source: 'KUBECONFIG' };
  return { files: [join(home, '.kube', 'config')], source: 'the default location' };
}

// The client library takes most of a second to load: only commands that talk to a cluster pay for it.
export async function loadCluster(g: GlobalOptions, env: Record<string, string | undefined> = process.env): Promise<Cluster> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const { files, source } = kubeconfigFiles(g.kubeconfig, env, homedir());
  const existing = files.filter((f) => existsSync(f));
  const kc = new KubeConfig();
  try {
    if (existing.length) {
      kc.loadFromFile(existing[0]!);
      for (const f of existing.slice(1)) {
        const more = new KubeConfig();
        more.loadFromFile(f);
        kc.mergeConfig(more);
      }
    } else if (g.kubeconfig === undefined && env.KUBERNETES_SERVICE_HOST && existsSync(SERVICE_ACCOUNT_TOKEN)) {
      kc.loadFromCluster(); // running in a Pod: its service account
    } else {
      const missing = files.length > 1 ? `none of ${files.join(', ')} (${source}) exists` : `${files[0]} (${source}) does not exist`;
      throw new CliError(EXIT.cluster, `no kubeconfig: ${missing}`, NO_KUBECONFIG_HINT);
    }
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(EXIT.cluster, `cannot read the kubeconfig ${existing.join(', ')}: ${(err as Error).message}`, NO_KUBECONFIG_HINT);
  }
  if (g.context !== undefined) {
    if (!kc.getContextObject(g.context)) {
      const known = kc.getContexts().map((c) => c.name);
      throw new UsageError(`--context '${g.context}' is not in the kubeconfig (contexts: ${known.join(', ') || 'none'})`);
    }
    kc.setCurrentContext(g.context);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) {
    throw new CliError(EXIT.cluster, `the kubeconfig ${existing.join(', ')} has no current context with a cluster`, 'pick one with --context, or set current-context in the file');
  }
  const context = kc.getCurrentContext() || undefined;
  const contextNamespace = context ? kc.getContextObject(context)?.namespace : undefined;
  return { kc, server: cluster.server, context, namespace: g.namespace ?? contextNamespace ?? 'default', requestTimeoutMs: g.requestTimeoutMs };
}

export function collectionPath(namespace: string | undefined): string {
  return namespace === undefined ? `/apis/${GROUP}/${VERSION}/${PLURAL}` : `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`;
}

export class BackendClient {
  readonly cluster: Cluster;
  constructor(cluster: Cluster) {
    this.cluster = cluster;
  }

  private async call<T>(ctx: Omit<RequestContext, 'server' | 'context'>, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      throw describeKubeError(err as ErrorLike, { ...ctx, server: this.cluster.server, context: this.cluster.context });
    }
  }

  get(namespace: string, name: string): Promise<SessionLivedBackend> {
    return this.call({ verb: 'get', namespace, name }, () =>
      requestJson<SessionLivedBackend>(this.cluster.kc, { path: `${collectionPath(namespace)}/${name}`, timeoutMs: this.cluster.requestTimeoutMs }),
    );
  }

  // undefined when it does not exist (and the CRD does: a missing CRD is still an error).
  async find(namespace: string, name: string): Promise<SessionLivedBackend | undefined> {
    try {
      return await this.get(namespace, name);
    } catch (err) {
      if (err instanceof CliError && err.exitCode === EXIT.notFound) return undefined;
      throw err;
    }
  }

  list(namespace: string | undefined): Promise<SessionLivedBackendList> {
    return this.call({ verb: 'list', namespace }, () =>
      requestJson<SessionLivedBackendList>(this.cluster.kc, { path: collectionPath(namespace), timeoutMs: this.cluster.requestTimeoutMs }),
    );
  }

  create(slb: SessionLivedBackend): Promise<SessionLivedBackend> {
    const namespace = slb.metadata.namespace!;
    return this.call({ verb: 'create', namespace, name: slb.metadata.name }, () =>
      requestJson<SessionLivedBackend>(this.cluster.kc, { method: 'POST', path: collectionPath(namespace), body: slb, timeoutMs: this.cluster.requestTimeoutMs }),
    );
  }

  async delete(namespace: string, name: string): Promise<void> {
    await this.call({ verb: 'delete', namespace, name }, () =>
      requestJson(this.cluster.kc, {
        method: 'DELETE',
        path: `${collectionPath(namespace)}/${name}`,
        body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' },
        timeoutMs: this.cluster.requestTimeoutMs,
      }),
    );
  }

  // A list+watch that the informer restarts on its own (watch timeouts, 410 Gone); the first request
  // is made by the caller (get/list) so that errors come out as CliErrors rather than silent retries.
  watch(namespace: string | undefined, name?: string): Informer<SessionLivedBackend> {
    return createInformer<SessionLivedBackend>({
      kubeConfig: this.cluster.kc,
      path: collectionPath(namespace),
      fieldSelector: name === undefined ? undefined : `metadata.name=${name}`,
      requestTimeoutMs: this.cluster.requestTimeoutMs,
      log: createLogger('spawner-cli', 'silent'),
      name: name ?? 'list',
    });
  }
}
