// The operator as the integration suite and the benchmark run it: a separate local process
// (`node operator/src/main.ts`) whose kubeconfig impersonates the service account of
// manifests/operator/rbac.yaml, so every request it makes is authorised exactly as in the cluster.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { impersonating, kubectl, statusOf, waitFor, writeKubeconfig } from '../../../e2e/harness/kube.ts';
import { backendUrl, mintAccessToken, parseAccessKey } from '../../../common/spawner/access.ts';

const repoRoot = path.resolve(import.meta.dirname, '../../..');
export const operatorMain = path.join(repoRoot, 'operator/src/main.ts');
export const rbacManifest = path.join(repoRoot, 'manifests/operator/rbac.yaml');
export const operatorNamespace = 'spawner-system';
export const operatorServiceAccount = 'spawner-operator';

/**
 * Applies the operator's RBAC (ServiceAccount, ClusterRole and binding, the Lease Role and binding) in
 * spawner-system. Idempotent; retried because another suite may be applying the same objects.
 */
export async function installOperatorRbac(kubeconfig?: string): Promise<void> {
  await waitFor(
    async () => {
      await kubectl(['create', 'namespace', operatorNamespace], { kubeconfig }).catch((err: Error) => {
        if (!/AlreadyExists|already exists/.test(err.message)) throw err;
      });
      await kubectl(['apply', '-n', operatorNamespace, '-f', rbacManifest], { kubeconfig });
      return true;
    },
    { what: 'the operator RBAC to apply', timeoutMs: 60_000, intervalMs: 1000 },
  );
}

/** A kubeconfig file for the operator's service account (admin credentials plus impersonation). */
export async function operatorKubeconfig(admin: KubeConfig, dir: string): Promise<string> {
  return writeKubeconfig(impersonating(admin, operatorNamespace, operatorServiceAccount), path.join(dir, 'operator.kubeconfig'));
}

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

/** A fresh namespace whose default service account exists (pods are refused before that). */
export async function createNamespace(core: CoreV1Api, prefix: string): Promise<string> {
  const name = `${prefix}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e4)}`;
  await core.createNamespace({ body: { metadata: { name } } });
  await waitFor(() => core.readNamespacedServiceAccount({ name: 'default', namespace: name }), {
    what: `the default service account in ${name}`,
    timeoutMs: 120_000,
  });
  return name;
}

export async function deleteNamespace(core: CoreV1Api, name: string): Promise<void> {
  await core.deleteNamespace({ name }).catch((err: unknown) => {
    if (statusOf(err) !== 404) throw err;
  });
}

/**
 * Deletes a test namespace while its operator still runs, and waits until the operator has finalized the
 * backends in it; without a running operator their finalizers would keep the namespace Terminating for
 * good. Best effort for tests (90 s); a benchmark that made thousands gives a longer `timeoutMs` and is
 * told how many were left (it then says so rather than leave a namespace behind unnoticed; NaN when no
 * listing ever answered). `kubeconfig`:
 * for a caller whose cluster is not the one KUBECONFIG names (a benchmark that started its own).
 */
export async function deleteNamespaceWithBackends(
  core: CoreV1Api,
  name: string,
  opts: { timeoutMs?: number; onProgress?: (line: string) => void; kubeconfig?: string } = {},
): Promise<{ left: number }> {
  await deleteNamespace(core, name);
  const remaining = async () => (await kubectl(['get', 'sessionlivedbackends', '-n', name, '-o', 'name'], { kubeconfig: opts.kubeconfig })).split('\n').filter((l) => l.trim()).length;
  let left = Number.NaN;
  await waitFor(
    async () => ((left = await remaining()) === 0 ? true : undefined),
    {
      what: `the backends of ${name} to be finalized`,
      timeoutMs: opts.timeoutMs ?? 90_000,
      intervalMs: 1000, // each probe is a kubectl process listing what is left
      ...(opts.onProgress ? { onProgress: (line: string) => opts.onProgress!(`${line} (${left} left)`), progressEveryMs: 10_000 } : {}),
    },
  ).catch(() => undefined);
  return { left };
}

export interface OperatorOptions {
  kubeconfig: string; // the impersonating kubeconfig file
  dir: string; // where the log goes
  identity: string;
  watchNamespace?: string; // default: all namespaces
  leaseName?: string; // default: the operator's default Lease name
  leaderElect?: boolean; // default true
  extraArgs?: string[];
  env?: Record<string, string>;
  nodeArgs?: string[]; // flags for Node itself, e.g. --cpu-prof
  main?: string; // the entry to run (default operator/src/main.ts); the benchmark runs the image's compiled one
}

export interface OperatorProcess {
  readonly identity: string;
  readonly pid: number;
  readonly logFile: string;
  /** Why it exited, once it has; undefined while it runs. */
  exited(): string | undefined;
  /** Resolves when the process has exited. */
  readonly done: Promise<void>;
  kill(signal: NodeJS.Signals): Promise<void>;
  /** SIGTERM and wait (SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<void>;
  /** Parsed JSON log lines so far. */
  logLines(): Array<Record<string, unknown>>;
  /** The last lines of the log, for error messages. */
  tail(lines?: number): string;
  metrics(): Promise<string>;
  /** The ports it listens on, from its own 'operator starting' line (it is given port 0 for each). */
  ports(timeoutMs?: number): Promise<OperatorPorts>;
  /** Waits until /readyz answers 200 (informers synced). */
  ready(timeoutMs?: number): Promise<void>;
  /** Waits until this process logs that it leads (works its queues). */
  leading(timeoutMs?: number): Promise<void>;
}

export interface OperatorPorts {
  metrics: number;
  api?: number; // with --api
}

let started = 0;

// The cluster access key the test operators mint URL tokens with (common/spawner/access.ts).
export const testAccessKeyHex = 'a3'.repeat(32);
export const testAccessKey = parseAccessKey(Buffer.from(testAccessKeyHex, 'hex'));

function writeTestAccessKey(dir: string): string {
  const file = path.join(dir, 'access-key');
  writeFileSync(file, Buffer.from(testAccessKeyHex, 'hex'), { mode: 0o600 });
  return file;
}

/** The status.url (and HTTP API url) a test operator gives a backend: its invitation with the token. */
export function invitation(namespace: string, name: string, uid: string): string {
  return backendUrl('http://spawner.test', name, mintAccessToken(testAccessKey, { namespace, name, uid }));
}

export async function startOperator(o: OperatorOptions): Promise<OperatorProcess> {
  // One log per process: a restarted replica of the same identity must not read its predecessor's lines.
  const logFile = path.join(o.dir, `operator-${o.identity}-${++started}.log`);
  const args = [
    ...(o.nodeArgs ?? []),
    o.main ?? operatorMain,
    `--kubeconfig=${o.kubeconfig}`,
    `--identity=${o.identity}`,
    // Port 0, read back from its log: a port picked here and passed on could be taken by another process
    // listening on port 0 (a route service beside it) before this one binds it, and that process's
    // /readyz would then answer for this one.
    '--metrics-port=0',
    `--leader-elect=${o.leaderElect === false ? 'false' : 'true'}`,
    `--lease-namespace=${operatorNamespace}`,
    ...(o.leaseName ? [`--lease-name=${o.leaseName}`] : []),
    ...(o.watchNamespace ? [`--namespace=${o.watchNamespace}`] : []),
    // The namespace it watches is the one the router serves, so its backends get URLs.
    ...(o.watchNamespace ? [`--routed-namespace=${o.watchNamespace}`] : []),
    `--access-key-file=${writeTestAccessKey(o.dir)}`,
    '--public-url=http://spawner.test',
    ...(o.extraArgs ?? []),
  ];
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    // The same Node that runs the tests (the pinned Node 24), without jest's flags.
    child = spawn(process.execPath, args, {
      cwd: repoRoot,
      stdio: ['ignore', fd, fd],
      env: { ...process.env, KUBECONFIG: '', LOG_LEVEL: 'info', ...o.env },
    });
  } finally {
    closeSync(fd);
  }
  let exitReason: string | undefined;
  const done = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitReason = `exited (${signal ?? `code ${String(code)}`})`;
      resolve();
    });
    child.once('error', (err) => {
      exitReason = `failed to start: ${err.message}`;
      resolve();
    });
  });
  const logLines = () => {
    const out: Array<Record<string, unknown>> = [];
    for (const line of readFileSync(logFile, 'utf8').split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        out.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // a line cut by SIGKILL
      }
    }
    return out;
  };
  const tail = (lines = 30) => readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  const failFast = () => (exitReason ? `operator ${o.identity} ${exitReason}; log:\n${tail()}` : undefined);
  let learned: OperatorPorts | undefined;
  const ports = async (timeoutMs = 60_000): Promise<OperatorPorts> =>
    (learned ??= await waitFor(
      () => {
        const line = logLines().find((l) => l.msg === 'operator starting');
        if (!line) return undefined;
        return { metrics: Number(line.metricsPort), ...(line.apiPort === undefined ? {} : { api: Number(line.apiPort) }) };
      },
      { what: `operator ${o.identity} to listen`, timeoutMs, intervalMs: 25, failFast },
    ));
  const proc: OperatorProcess = {
    identity: o.identity,
    pid: child.pid ?? -1,
    logFile,
    exited: () => exitReason,
    done,
    async kill(signal) {
      if (exitReason) return;
      child.kill(signal);
      await done;
    },
    async stop(graceMs = 20_000) {
      if (exitReason) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await done;
      clearTimeout(t);
    },
    logLines,
    tail,
    async metrics() {
      const res = await fetch(`http://127.0.0.1:${(await ports()).metrics}/metrics`);
      return res.text();
    },
    ports,
    async ready(timeoutMs = 60_000) {
      const start = Date.now();
      const { metrics } = await ports(timeoutMs);
      await waitFor(
        async () => {
          const res = await fetch(`http://127.0.0.1:${metrics}/readyz`);
          if (res.status !== 200) throw new Error(`/readyz: HTTP ${res.status}`);
          return true;
        },
        {
          what: `operator ${o.identity} to be ready`,
          timeoutMs: Math.max(1, timeoutMs - (Date.now() - start)),
          intervalMs: 100,
          failFast,
        },
      );
    },
    async leading(timeoutMs = 60_000) {
      await waitFor(() => logLines().some((l) => l.msg === 'leading: working the queues'), {
        what: `operator ${o.identity} to lead`,
        timeoutMs,
        intervalMs: 50,
        failFast,
      });
    },
  };
  return proc;
}

/** The value of a counter or gauge in Prometheus text, summed over the series matching `labels`. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labelPart = line.slice(name.length).match(/^\{([^}]*)\}/)?.[1] ?? '';
    const have = Object.fromEntries([...labelPart.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(line.trim().split(/\s+/).pop());
  }
  return sum;
}

export { sleep };
