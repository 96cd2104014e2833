// A loopback stand-in for the API server, speaking just enough of the list/watch and object protocol
// to test the runtime's client logic over real sockets: paginated lists with a resourceVersion, watches
// that replay history from a resourceVersion, bookmarks, 410 Gone after compaction, and create/read/
// replace with resourceVersion conflicts. Test controls let a test break connections, mute a watch,
// and inject failures. It is not a model of the real server: the real-API-server tests cover that.

import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig, type KubernetesObject } from '@kubernetes/client-node';

export interface FakeResource {
  prefix: string; // '/api/v1', '/apis/coordination.k8s.io/v1'
  plural: string;
}

type Obj = KubernetesObject & Record<string, unknown>;

interface HistoryEntry {
  rv: number;
  resource: string;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  obj: Obj;
}

interface OpenWatch {
  resource: string;
  namespace: string | undefined;
  labelSelector: string | undefined;
  fieldSelector: string | undefined;
  res: http.ServerResponse;
  muted: boolean;
}

export interface RequestInfo {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
}

// A fault hook answers instead of the fake when it returns something: a status (with optional body),
// or 'hang' to never answer.
export type Fault = (req: RequestInfo) => { status: number; body?: unknown } | 'hang' | undefined;

export class FakeApiServer {
  readonly resources: FakeResource[];
  private rv = 100;
  private compactedRv = 0;
  private readonly store = new Map<string, Map<string, Obj>>();
  private readonly history: HistoryEntry[] = [];
  private readonly watches = new Set<OpenWatch>();
  private readonly server: http.Server;
  private uidSeq = 0;
  port = 0;

  // How a watch from a compacted resourceVersion is refused: as the HTTP status, or (as the real server
  // does) as a 200 stream carrying one ERROR event with a 410 Status.
  goneMode: 'status' | 'event' = 'event';
  refuseWatches = false; // answer every watch with 503 (an API server that is down for watches)
  pageSize: number | undefined; // force small pages regardless of the client's limit
  faults: Fault[] = [];
  readonly requests: RequestInfo[] = [];
  hung: http.ServerResponse[] = [];

  constructor(resources: FakeResource[]) {
    this.resources = resources;
    for (const r of resources) this.store.set(resKey(r), new Map());
    this.server = http.createServer((req, res) => void this.handle(req, res));
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const w of this.watches) w.res.destroy();
    for (const r of this.hung) r.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'fake', server: `http://127.0.0.1:${this.port}`, skipTLSVerify: true }],
      users: [{ name: 'fake', token: 'fake-token' }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'fake' }],
      currentContext: 'fake',
    });
    return kc;
  }

  // ---- test controls ------------------------------------------------------------------------------

  currentResourceVersion(): string {
    return String(this.rv);
  }

  objects(resource: FakeResource): Obj[] {
    return [...this.bucket(resKey(resource)).values()];
  }

  getObject(resource: FakeResource, namespace: string, name: string): Obj | undefined {
    return this.bucket(resKey(resource)).get(`${namespace}/${name}`);
  }

  create(resource: FakeResource, obj: KubernetesObject): Obj {
    const stored = this.doCreate(resKey(resource), obj as Obj);
    if (!stored) throw new Error(`already exists: ${obj.metadata?.name}`);
    return stored;
  }

  update(resource: FakeResource, obj: KubernetesObject): Obj {
    const b = this.bucket(resKey(resource));
    const key = `${obj.metadata?.namespace}/${obj.metadata?.name}`;
    if (!b.has(key)) throw new Error(`not found: ${key}`);
    return this.write(resKey(resource), key, clone(obj as Obj), 'MODIFIED');
  }

  remove(resource: FakeResource, namespace: string, name: string): void {
    if (!this.removeKey(resKey(resource), `${namespace}/${name}`)) throw new Error(`not found: ${namespace}/${name}`);
  }

  private removeKey(r: string, key: string): Obj | undefined {
    const old = this.bucket(r).get(key);
    if (!old) return undefined;
    this.bucket(r).delete(key);
    const rv = ++this.rv;
    const obj = clone(old);
    obj.metadata = { ...obj.metadata, resourceVersion: String(rv) };
    this.record({ rv, resource: r, type: 'DELETED', obj });
    return obj;
  }

  // Forget history up to now: a watch from any older resourceVersion gets 410 Gone.
  compact(): void {
    this.compactedRv = this.rv;
    this.history.length = 0;
  }

  bookmark(): void {
    for (const w of this.watches) {
      if (!w.muted) writeEvent(w.res, 'BOOKMARK', { kind: 'Bookmark', metadata: { resourceVersion: String(this.rv) } });
    }
  }

  // Break every open watch connection abruptly (a reset, not a clean end).
  dropWatches(): void {
    for (const w of this.watches) w.res.destroy();
    this.watches.clear();
  }

  endWatches(): void {
    for (const w of this.watches) w.res.end();
    this.watches.clear();
  }

  // Keep the open watches connected but never send them anything again (a half-dead connection).
  muteWatches(): void {
    for (const w of this.watches) w.muted = true;
  }

  openWatchCount(): number {
    return [...this.watches].filter((w) => !w.muted && !w.res.destroyed).length;
  }

  countRequests(method: string, pred: (r: RequestInfo) => boolean = () => true): number {
    return this.requests.filter((r) => r.method === method && pred(r)).length;
  }

  // ---- protocol -----------------------------------------------------------------------------------

  private bucket(r: string): Map<string, Obj> {
    let b = this.store.get(r);
    if (!b) {
      b = new Map();
      this.store.set(r, b);
    }
    return b;
  }

  private doCreate(r: string, obj: Obj): Obj | undefined {
    const key = `${obj.metadata?.namespace}/${obj.metadata?.name}`;
    if (this.bucket(r).has(key)) return undefined;
    const o = clone(obj);
    o.metadata = { ...o.metadata, uid: `uid-${++this.uidSeq}`, creationTimestamp: new Date().toISOString() as never };
    return this.write(r, key, o, 'ADDED');
  }

  private write(r: string, key: string, obj: Obj, type: 'ADDED' | 'MODIFIED'): Obj {
    const rv = ++this.rv;
    obj.metadata = { ...obj.metadata, resourceVersion: String(rv) };
    this.bucket(r).set(key, obj);
    this.record({ rv, resource: r, type, obj: clone(obj) });
    return clone(obj);
  }

  private record(e: HistoryEntry): void {
    this.history.push(e);
    for (const w of this.watches) {
      if (!w.muted && matches(w, e.resource, e.obj)) writeEvent(w.res, e.type, e.obj);
    }
  }

  private route(path: string): { resource: string; namespace?: string; name?: string } | undefined {
    for (const r of this.resources) {
      const esc = r.prefix.replace(/[.]/g, '\\.');
      if (path === `${r.prefix}/${r.plural}`) return { resource: resKey(r) };
      const m = new RegExp(`^${esc}/namespaces/([^/]+)/${r.plural}(?:/([^/]+))?$`).exec(path);
      if (m) return { resource: resKey(r), namespace: m[1], name: m[2] };
    }
    return undefined;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const info: RequestInfo = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      body: text ? JSON.parse(text) : undefined,
    };
    this.requests.push(info);
    for (const f of this.faults) {
      const out = f(info);
      if (out === 'hang') {
        this.hung.push(res);
        return;
      }
      if (out) return sendJson(res, out.status, out.body ?? status(out.status, 'injected fault'));
    }
    if (req.headers.authorization !== 'Bearer fake-token') return sendJson(res, 401, status(401, 'Unauthorized'));
    const rt = this.route(url.pathname);
    if (!rt) return sendJson(res, 404, status(404, `no route ${url.pathname}`));
    const watch = url.searchParams.get('watch');
    if (info.method === 'GET' && !rt.name && (watch === 'true' || watch === '1')) return this.serveWatch(rt, url, res);
    if (info.method === 'GET' && !rt.name) return this.serveList(rt, url, res);
    const b = this.bucket(rt.resource);
    const key = `${rt.namespace}/${rt.name}`;
    if (info.method === 'GET') {
      const o = b.get(key);
      return o ? sendJson(res, 200, o) : sendJson(res, 404, status(404, `${rt.name} not found`, 'NotFound'));
    }
    if (info.method === 'POST' && !rt.name) {
      const body = info.body as Obj;
      body.metadata = { ...body.metadata, namespace: rt.namespace };
      const created = this.doCreate(rt.resource, body);
      return created
        ? sendJson(res, 201, created)
        : sendJson(res, 409, status(409, `${body.metadata?.name} already exists`, 'AlreadyExists'));
    }
    if (info.method === 'PUT' && rt.name) {
      const body = info.body as Obj;
      const cur = b.get(key);
      if (!cur) return sendJson(res, 404, status(404, `${rt.name} not found`, 'NotFound'));
      if (body.metadata?.resourceVersion !== cur.metadata?.resourceVersion) {
        return sendJson(res, 409, status(409, 'the object has been modified; please apply your changes to the latest version', 'Conflict'));
      }
      body.metadata = { ...body.metadata, uid: cur.metadata?.uid, namespace: rt.namespace, name: rt.name };
      return sendJson(res, 200, this.write(rt.resource, key, body, 'MODIFIED'));
    }
    if (info.method === 'DELETE' && rt.name) {
      const gone = this.removeKey(rt.resource, key);
      return gone ? sendJson(res, 200, gone) : sendJson(res, 404, status(404, `${rt.name} not found`, 'NotFound'));
    }
    return sendJson(res, 405, status(405, 'method not allowed'));
  }

  private serveList(rt: { resource: string; namespace?: string }, url: URL, res: http.ServerResponse): void {
    const sel = url.searchParams.get('labelSelector') ?? undefined;
    const fields = url.searchParams.get('fieldSelector') ?? undefined;
    const all = [...this.bucket(rt.resource).values()]
      .filter((o) => (rt.namespace === undefined || o.metadata?.namespace === rt.namespace) && labelsMatch(sel, o) && fieldsMatch(fields, o))
      .sort((a, b) => objKey(a).localeCompare(objKey(b)));
    const limit = this.pageSize ?? Number(url.searchParams.get('limit') ?? 0);
    const start = Number(url.searchParams.get('continue') || 0);
    const end = limit > 0 ? start + limit : all.length;
    const items = all.slice(start, end);
    sendJson(res, 200, {
      kind: 'List',
      apiVersion: 'v1',
      metadata: { resourceVersion: String(this.rv), ...(end < all.length ? { continue: String(end) } : {}) },
      items,
    });
  }

  private serveWatch(rt: { resource: string; namespace?: string }, url: URL, res: http.ServerResponse): void {
    if (this.refuseWatches) return sendJson(res, 503, status(503, 'watches refused by test'));
    const from = url.searchParams.get('resourceVersion');
    if (url.searchParams.get('allowWatchBookmarks') !== 'true') {
      return sendJson(res, 400, status(400, 'this fake insists on allowWatchBookmarks=true'));
    }
    if (from && Number(from) < this.compactedRv) {
      const st = status(410, `too old resource version: ${from} (${this.compactedRv})`, 'Expired');
      if (this.goneMode === 'status') return sendJson(res, 410, st);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      writeEvent(res, 'ERROR', st);
      res.end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const w: OpenWatch = {
      resource: rt.resource,
      namespace: rt.namespace,
      labelSelector: url.searchParams.get('labelSelector') ?? undefined,
      fieldSelector: url.searchParams.get('fieldSelector') ?? undefined,
      res,
      muted: false,
    };
    if (from) {
      for (const e of this.history) if (e.rv > Number(from) && matches(w, e.resource, e.obj)) writeEvent(res, e.type, e.obj);
    } else {
      for (const o of this.bucket(rt.resource).values()) if (matches(w, rt.resource, o)) writeEvent(res, 'ADDED', o);
    }
    this.watches.add(w);
    const t = Number(url.searchParams.get('timeoutSeconds') ?? 0);
    const timer = t > 0 ? setTimeout(() => res.end(), t * 1000) : undefined;
    res.on('close', () => {
      if (timer) clearTimeout(timer);
      this.watches.delete(w);
    });
  }
}

function resKey(r: FakeResource): string {
  return `${r.prefix}/${r.plural}`;
}

function objKey(o: KubernetesObject): string {
  return `${o.metadata?.namespace}/${o.metadata?.name}`;
}

function clone<T>(o: T): T {
  return JSON.parse(JSON.stringify(o)) as T;
}

function matches(w: OpenWatch, resource: string, o: KubernetesObject): boolean {
  return (
    w.resource === resource &&
    (w.namespace === undefined || o.metadata?.namespace === w.namespace) &&
    labelsMatch(w.labelSelector, o) &&
    fieldsMatch(w.fieldSelector, o)
  );
}

// Equality field selectors on dotted paths (`metadata.name=x`, `status.nodeName=y`): enough for these tests.
function fieldsMatch(sel: string | undefined, o: KubernetesObject): boolean {
  if (!sel) return true;
  return sel.split(',').every((term) => {
    const [path, want] = term.split('=');
    let v: unknown = o;
    for (const part of (path ?? '').split('.')) v = (v as Record<string, unknown> | undefined)?.[part];
    return String(v ?? '') === want;
  });
}

// Equality selectors only (`a=b,c=d`): enough for these tests.
function labelsMatch(sel: string | undefined, o: KubernetesObject): boolean {
  if (!sel) return true;
  return sel.split(',').every((term) => {
    const [k, v] = term.split('=');
    return k !== undefined && o.metadata?.labels?.[k] === v;
  });
}

function status(code: number, message: string, reason?: string) {
  return { kind: 'Status', apiVersion: 'v1', status: 'Failure', code, message, reason };
}

function sendJson(res: http.ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function writeEvent(res: http.ServerResponse, type: string, obj: unknown): void {
  if (!res.destroyed) res.write(JSON.stringify({ type, object: obj }) + '\n');
}
