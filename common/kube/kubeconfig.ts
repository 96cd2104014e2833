// How the runtime reaches the API server: a server URL plus the TLS and authentication to apply to each
// request. `@kubernetes/client-node`'s KubeConfig has exactly this shape, but loading it loads the whole
// generated client (about 85 MB of resident memory for a process that uses none of it), so the common
// cases are read here: in-cluster service-account credentials, and kubeconfig files in JSON (what the
// harness and `kubectl config view --flatten -o json` write) with certificates, a token or token file,
// and user impersonation. Anything else (YAML, exec plugins, auth providers, proxies) goes through the
// full client, loaded only then.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { https } from '../node-https.ts';

export interface KubeCluster {
  name?: string;
  server: string;
  skipTLSVerify?: boolean;
}

/** What the runtime needs of a kubeconfig; client-node's KubeConfig satisfies it as well. */
export interface KubeAccess {
  getCurrentCluster(): KubeCluster | null;
  applyToHTTPSOptions(opts: https.RequestOptions): Promise<void>;
}

export const inClusterDir = '/var/run/secrets/kubernetes.io/serviceaccount';
const TOKEN_REREAD_MS = 60_000; // projected tokens rotate; client-go re-reads the file every minute

interface Credentials {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  token?: string;
  tokenFile?: string;
  impersonateUser?: string;
  tlsServerName?: string;
}

export class StaticKubeAccess implements KubeAccess {
  private readonly cluster: KubeCluster;
  private readonly creds: Credentials;
  private readonly agent: https.Agent;
  private token: { value: string; readAt: number } | undefined;

  constructor(cluster: KubeCluster, creds: Credentials) {
    this.cluster = cluster;
    this.creds = creds;
    this.agent = new https.Agent({
      keepAlive: true,
      keepAliveMsecs: 30_000,
      ca: creds.ca,
      cert: creds.cert,
      key: creds.key,
      servername: creds.tlsServerName,
      rejectUnauthorized: !cluster.skipTLSVerify,
    });
  }

  getCurrentCluster(): KubeCluster {
    return this.cluster;
  }

  async applyToHTTPSOptions(opts: https.RequestOptions): Promise<void> {
    opts.agent = this.agent;
    const headers: Record<string, string> = { ...(opts.headers as Record<string, string> | undefined) };
    const token = await this.currentToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    if (this.creds.impersonateUser) headers['Impersonate-User'] = this.creds.impersonateUser;
    opts.headers = headers;
  }

  private async currentToken(): Promise<string | undefined> {
    if (!this.creds.tokenFile) return this.creds.token;
    const now = Date.now();
    if (!this.token || now - this.token.readAt > TOKEN_REREAD_MS) {
      this.token = { value: (await readFile(this.creds.tokenFile, 'utf8')).trim(), readAt: now };
    }
    return this.token.value;
  }
}

/** The pod's service account: KUBERNETES_SERVICE_HOST/PORT, its CA and its (rotating) token file. */
export function inClusterAccess(env: NodeJS.ProcessEnv = process.env, dir = inClusterDir): StaticKubeAccess {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) throw new Error('not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are unset');
  const server = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return new StaticKubeAccess({ name: 'in-cluster', server }, { ca: readFileSync(`${dir}/ca.crt`), tokenFile: `${dir}/token` });
}

type Named<T> = { name: string } & T;
interface KubeconfigJson {
  'current-context'?: string;
  clusters?: Named<{ cluster: Record<string, unknown> }>[];
  users?: Named<{ user: Record<string, unknown> }>[];
  contexts?: Named<{ context: { cluster?: string; user?: string } }>[];
}

const HANDLED_CLUSTER = new Set(['server', 'certificate-authority', 'certificate-authority-data', 'insecure-skip-tls-verify', 'tls-server-name']);
const HANDLED_USER = new Set(['client-certificate', 'client-certificate-data', 'client-key', 'client-key-data', 'token', 'tokenFile', 'as']);

/**
 * The current context of a JSON kubeconfig, when it uses only what StaticKubeAccess handles; otherwise
 * undefined (the caller falls back to the full client). Throws on a kubeconfig that cannot work at all.
 */
export function parseSimpleKubeconfig(text: string, file: string): StaticKubeAccess | undefined {
  let doc: KubeconfigJson;
  try {
    doc = JSON.parse(text) as KubeconfigJson;
  } catch {
    return undefined; // YAML
  }
  const contextName = doc['current-context'];
  const context = doc.contexts?.find((c) => c.name === contextName)?.context;
  if (!context) throw new Error(`${file}: no current context`);
  const cluster = doc.clusters?.find((c) => c.name === context.cluster)?.cluster;
  const user = doc.users?.find((u) => u.name === context.user)?.user ?? {};
  if (!cluster || typeof cluster.server !== 'string') throw new Error(`${file}: the current context has no cluster with a server`);
  if (Object.keys(cluster).some((k) => !HANDLED_CLUSTER.has(k)) || Object.keys(user).some((k) => !HANDLED_USER.has(k))) return undefined;
  if (!cluster.server.startsWith('https://')) return undefined;
  const bytes = (data: unknown, path: unknown): Buffer | undefined => {
    if (typeof data === 'string') return Buffer.from(data, 'base64');
    if (typeof path === 'string') return readFileSync(path);
    return undefined;
  };
  return new StaticKubeAccess(
    { name: context.cluster, server: cluster.server, skipTLSVerify: cluster['insecure-skip-tls-verify'] === true },
    {
      ca: bytes(cluster['certificate-authority-data'], cluster['certificate-authority']),
      cert: bytes(user['client-certificate-data'], user['client-certificate']),
      key: bytes(user['client-key-data'], user['client-key']),
      token: typeof user.token === 'string' ? user.token : undefined,
      tokenFile: typeof user.tokenFile === 'string' ? user.tokenFile : undefined,
      impersonateUser: typeof user.as === 'string' ? user.as : undefined,
      tlsServerName: typeof cluster['tls-server-name'] === 'string' ? cluster['tls-server-name'] : undefined,
    },
  );
}

/** The kubeconfig at `path`, or the in-cluster service account when `path` is empty. */
export async function loadKubeAccess(path: string): Promise<KubeAccess> {
  if (!path) return inClusterAccess();
  const simple = parseSimpleKubeconfig(readFileSync(path, 'utf8'), path);
  if (simple) return simple;
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  if (!kc.getCurrentCluster()) throw new Error('no current cluster');
  return kc;
}
