// The real route service (router/src/service.ts) for the nginx tests, fed from tables in memory instead
// of an informer: `cache` is what its informer would hold, `api` what the API server would answer to a
// fresh read (tests make the two differ to play a cache that lags behind). Every fresh read is counted.
import { randomBytes, randomUUID } from 'node:crypto';
import { Registry } from 'prom-client';
import { createLogger } from '../../../common/log.ts';
import { mintAccessToken, parseAccessKey } from '../../../common/spawner/access.ts';
import type { RouteEntry } from '../../../router/src/decide.ts';
import { startRouteService, type RouteService } from '../../../router/src/service.ts';
import { StaticRouteTable } from '../../../router/src/table.ts';

export interface TestRouteService {
  service: RouteService;
  namespace: string;
  cache: StaticRouteTable;
  api: Map<string, RouteEntry>;
  freshReads: string[]; // names read from the "API server", in order
  routeAsks: () => number; // requests nginx sent to /route
  setReady(ready: boolean): void;
  tokenFor(e: Pick<RouteEntry, 'name' | 'uid'>, namespace?: string): string;
  close(): Promise<void>;
}

export function entry(name: string, over: Partial<RouteEntry> = {}): RouteEntry {
  return { name, uid: randomUUID(), phase: 'Ready', deleting: false, podIP: '127.0.0.1', port: 1, public: false, ...over };
}

export async function startTestRouteService(namespace: string, port = 0): Promise<TestRouteService> {
  const key = parseAccessKey(randomBytes(32));
  const cache = new StaticRouteTable();
  const api = new Map<string, RouteEntry>();
  const freshReads: string[] = [];
  let ready = true;
  let asks = 0;
  const get = cache.get.bind(cache);
  cache.get = (name: string) => {
    asks++;
    return get(name);
  };
  const service = await startRouteService({
    namespace,
    key,
    table: cache,
    fresh: async (name) => {
      freshReads.push(name);
      return api.get(name);
    },
    host: '127.0.0.1',
    port,
    cookieSecure: 'auto',
    readiness: [{ name: 'test', check: () => ({ ok: ready, detail: ready ? undefined : 'told not to be' }) }],
    registry: new Registry(),
    log: createLogger('router-test', 'silent'),
  });
  return {
    service,
    namespace,
    cache,
    api,
    freshReads,
    routeAsks: () => asks,
    setReady: (r) => (ready = r),
    tokenFor: (e, ns = namespace) => mintAccessToken(key, { namespace: ns, name: e.name, uid: e.uid }),
    close: () => service.close(),
  };
}
