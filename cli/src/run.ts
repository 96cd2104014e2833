// The commands. Each takes its checked options and an Io; all cluster access goes through BackendClient.
import { readFile } from 'node:fs/promises';
import { API_VERSION } from '../../common/contract.ts';
import type { SessionLivedBackend } from '../../common/spawner/types.ts';
import { backendFromFlags, claimFromFlags } from './build.ts';
import { BackendClient, loadCluster } from './cluster.ts';
import { CliError, EXIT, UsageError } from './errors.ts';
import { backendsFromManifest } from './manifest.ts';
import { columnWidths, formatObjects, forPrinting, NAME_PREFIX, noneFound, renderTable, tableRows } from './output.ts';
import type { CreateOptions, DeleteOptions, GetOptions, GlobalOptions, WaitOptions } from './options.ts';
import { judge, progressLine, timeoutError, type WaitFor } from './wait.ts';

export interface Io {
  out(text: string): void;
  err(text: string): void;
  readStdin(): Promise<string>;
}

// Every CRD of the API, in one multi-document stream for `kubectl apply -f -`.
export const CRD_FILES = ['sessionlivedbackends.spawner.dev.yaml', 'warmpools.spawner.dev.yaml'].map((f) => new URL(`../../manifests/crd/${f}`, import.meta.url));
const PACKAGE_FILE = new URL('../package.json', import.meta.url);

// Follows one backend until `target` is reached, printing progress lines to stderr when asked.
// Resolves with the last state (undefined once deleted); rejects with the CliError of judge() or a timeout.
export async function waitUntil(
  client: BackendClient,
  namespace: string,
  name: string,
  target: WaitFor,
  timeoutMs: number,
  io: Io,
  opts: { progress: boolean; current?: SessionLivedBackend },
): Promise<SessionLivedBackend | undefined> {
  let last = opts.current ?? (await client.find(namespace, name));
  if (last === undefined && target === 'ready') throw new CliError(EXIT.notFound, `backend "${name}" not found in namespace "${namespace}"`);
  let printed: string | undefined;
  const informer = client.watch(namespace, name);
  return new Promise<SessionLivedBackend | undefined>((resolve, reject) => {
    let finished = false;
    const finish = (err: CliError | undefined, value?: SessionLivedBackend) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      informer.stop();
      if (err) reject(err);
      else resolve(value);
    };
    const see = (slb: SessionLivedBackend | undefined) => {
      if (finished) return;
      last = slb;
      if (opts.progress) {
        const line = progressLine(name, slb, printed);
        if (line) io.err(`${line}\n`);
        printed = line ?? printed;
      }
      const outcome = judge(target, name, slb);
      if (outcome.kind === 'done') finish(undefined, outcome.slb);
      else if (outcome.kind === 'fail') finish(outcome.error);
    };
    const timer = setTimeout(() => finish(timeoutError(target, name, timeoutMs, last)), timeoutMs);
    informer.on('add', (o) => see(o));
    informer.on('update', (o) => see(o));
    informer.on('delete', () => see(undefined));
    see(last);
    informer.start().then(
      () => {
        if (informer.list().length === 0) see(undefined); // gone between our GET and the watch's list
      },
      () => undefined, // stopped because we finished
    );
  });
}

export async function runCreate(g: GlobalOptions, o: CreateOptions, io: Io): Promise<void> {
  // --dry-run prints what would be sent without needing a cluster: the namespace comes from the
  // kubeconfig when there is one.
  let namespace = g.namespace ?? 'default';
  let client: BackendClient | undefined;
  if (!o.dryRun) {
    client = new BackendClient(await loadCluster(g));
    namespace = client.cluster.namespace;
  } else if (g.namespace === undefined) {
    try {
      namespace = (await loadCluster(g)).namespace;
    } catch {
      // no kubeconfig: default
    }
  }
  let wanted: SessionLivedBackend[];
  if (o.source.kind === 'flags') {
    wanted = [backendFromFlags(o.source.flags, namespace)];
  } else if (o.source.kind === 'pool') {
    wanted = [claimFromFlags(o.source.claim, namespace)];
  } else {
    const path = o.source.path;
    let text: string;
    try {
      text = path === '-' ? await io.readStdin() : await readFile(path, 'utf8');
    } catch (err) {
      throw new UsageError(`-f ${path}: cannot read it: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'create');
    }
    wanted = backendsFromManifest(text, path === '-' ? 'stdin' : path, { flag: g.namespace, fallback: namespace });
  }
  if (o.dryRun) {
    io.out(formatObjects(wanted, o.output ?? 'yaml', wanted.length > 1));
    return;
  }
  const created: SessionLivedBackend[] = [];
  for (const slb of wanted) {
    const made = await client!.create(slb);
    created.push(made);
    const line = `${NAME_PREFIX}/${made.metadata.name} created\n`;
    // Without -o, stdout is for the URL when waiting (URL=$(spawner create … --wait)).
    if (!o.output) (o.wait ? io.err : io.out)(line);
  }
  let final = created;
  if (o.wait) {
    final = [];
    const deadline = Date.now() + o.timeoutMs;
    for (const slb of created) {
      const ns = slb.metadata.namespace!;
      const ready = await waitUntil(client!, ns, slb.metadata.name!, 'ready', Math.max(1, deadline - Date.now()), io, { progress: true, current: slb });
      final.push(ready!);
      if (!o.output) io.out(`${ready!.status!.url}\n`);
    }
  }
  if (o.output) io.out(formatObjects(final, o.output, final.length > 1));
}

export async function runGet(g: GlobalOptions, o: GetOptions, io: Io): Promise<void> {
  const client = new BackendClient(await loadCluster(g));
  const namespace = o.allNamespaces ? undefined : client.cluster.namespace;
  const items = o.name !== undefined ? [await client.get(namespace!, o.name)] : (await client.list(namespace)).items;
  const table = o.output === 'table' || o.output === 'wide';
  const tableOpts = { wide: o.output === 'wide', withNamespace: o.allNamespaces, header: true };
  let widths: number[] | undefined;
  if (table) {
    if (items.length === 0 && o.name === undefined) io.err(noneFound(namespace));
    else {
      const rows = tableRows(items, tableOpts, Date.now());
      widths = columnWidths(rows);
      io.out(renderTable(rows, widths));
    }
  } else if (o.watch && o.output === 'json') {
    for (const slb of items) io.out(`${JSON.stringify(forPrinting(slb))}\n`); // a stream: one object per line
  } else if (o.watch && o.output === 'yaml') {
    for (const slb of items) io.out(`---\n${formatObjects([slb], 'yaml', false)}`); // a stream of documents
  } else {
    io.out(formatObjects(items, o.output as 'json' | 'yaml' | 'name', o.name === undefined));
  }
  if (!o.watch) return;

  // Then every change, once per resourceVersion (the informer's first list repeats what we printed).
  const seen = new Map(items.map((s) => [`${s.metadata.namespace}/${s.metadata.name}`, s.metadata.resourceVersion]));
  const informer = client.watch(namespace, o.name);
  let headerDone = widths !== undefined;
  const print = (slb: SessionLivedBackend, deleted: boolean) => {
    const key = `${slb.metadata.namespace}/${slb.metadata.name}`;
    if (!deleted && seen.get(key) === slb.metadata.resourceVersion) return;
    if (deleted) seen.delete(key);
    else seen.set(key, slb.metadata.resourceVersion);
    if (table) {
      const rows = tableRows([slb], { ...tableOpts, header: !headerDone, deleted }, Date.now());
      headerDone = true;
      widths = widths ?? columnWidths(rows);
      io.out(renderTable(rows, widths.map((w, i) => Math.max(w, rows[rows.length - 1]![i]!.length))));
    } else if (o.output === 'yaml') {
      io.out(`---\n${formatObjects([slb], 'yaml', false)}`);
    } else if (o.output === 'json') {
      io.out(`${JSON.stringify(forPrinting(slb))}\n`);
    } else {
      io.out(formatObjects([slb], 'name', false));
    }
  };
  informer.on('add', (s) => print(s, false));
  informer.on('update', (s) => print(s, false));
  informer.on('delete', (s) => print(s, true));
  await informer.start();
  await new Promise<never>(() => undefined); // until interrupted
}

export async function runWait(g: GlobalOptions, o: WaitOptions, io: Io): Promise<void> {
  const client = new BackendClient(await loadCluster(g));
  const ns = client.cluster.namespace;
  const result = await waitUntil(client, ns, o.name, o.for, o.timeoutMs, io, { progress: true });
  if (o.for === 'ready') io.out(`${result!.status!.url}\n`);
  else io.err(`${o.name}: deleted\n`);
}

export async function runDelete(g: GlobalOptions, o: DeleteOptions, io: Io): Promise<void> {
  const client = new BackendClient(await loadCluster(g));
  const ns = client.cluster.namespace;
  let firstError: CliError | undefined;
  const deleted: string[] = [];
  for (const name of o.names) {
    try {
      await client.delete(ns, name);
      deleted.push(name);
      io.out(`${NAME_PREFIX} "${name}" deleted\n`);
    } catch (err) {
      if (err instanceof CliError && err.exitCode === EXIT.notFound && o.ignoreNotFound) continue;
      if (!(err instanceof CliError) || err.exitCode !== EXIT.notFound || o.names.length === 1) throw err; // cluster-wide problems end it
      io.err(`error: ${err.message}\n`);
      firstError ??= err;
    }
  }
  if (o.wait) {
    const deadline = Date.now() + o.timeoutMs;
    for (const name of deleted) await waitUntil(client, ns, name, 'deleted', Math.max(1, deadline - Date.now()), io, { progress: true });
  }
  if (firstError) throw new CliError(firstError.exitCode, 'some of the backends were not found (see above); the others were deleted');
}

export async function runPrintCrd(io: Io): Promise<void> {
  const manifests = await Promise.all(CRD_FILES.map((f) => readFile(f, 'utf8')));
  io.out(manifests.join('---\n'));
}

export async function runVersion(io: Io): Promise<void> {
  const pkg = JSON.parse(await readFile(PACKAGE_FILE, 'utf8')) as { version: string };
  io.out(`spawner ${pkg.version} (${API_VERSION} SessionLivedBackend, Node ${process.versions.node})\n`);
}
