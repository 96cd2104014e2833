// A process's HTTP side door (the operator's and the sweeper's): /metrics for Prometheus (when given a
// registry), /healthz for the liveness probe (the process is serving and its informers are not stuck)
// and /readyz for the readiness probe (caches synced). Liveness deliberately ignores API-server
// reachability: restarting the pod does not fix the network, and an API server that is down at start
// must not restart every replica (or every node's sweeper) in a loop.

import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { errText, type Logger } from '../log.ts';
import type { InformerLike } from './metrics.ts';
import { http } from '../node-http.ts';

export interface CheckResult {
  ok: boolean;
  detail?: string;
}

export interface HealthCheck {
  name: string;
  check: () => CheckResult;
}

export interface HealthServerOptions {
  port: number; // 0 picks a free port (tests)
  host?: string;
  registry?: Registry; // no /metrics without one
  liveness: HealthCheck[];
  readiness: HealthCheck[];
  log: Logger;
}

export interface HealthServer {
  port: number;
  close(): Promise<void>;
}

export function informersSynced(informers: () => InformerLike[]): HealthCheck {
  return {
    name: 'informers-synced',
    check: () => {
      const waiting = informers().filter((i) => !i.hasSynced()).map((i) => i.name);
      return waiting.length ? { ok: false, detail: `not synced: ${waiting.join(', ')}` } : { ok: true };
    },
  };
}

export function informersNotWedged(informers: () => InformerLike[]): HealthCheck {
  return {
    name: 'informers-not-wedged',
    check: () => {
      const stuck = informers().filter((i) => i.isWedged()).map((i) => i.name);
      return stuck.length ? { ok: false, detail: `stuck: ${stuck.join(', ')}` } : { ok: true };
    },
  };
}

// Runs all checks; a check that throws counts as failed with its message, never as passing.
export function runChecks(checks: HealthCheck[]): { ok: boolean; checks: Array<{ name: string } & CheckResult> } {
  const results = checks.map((c) => {
    try {
      return { name: c.name, ...c.check() };
    } catch (err) {
      return { name: c.name, ok: false, detail: `check threw: ${errText(err)}` };
    }
  });
  return { ok: results.every((r) => r.ok), checks: results };
}

export async function startHealthServer(opts: HealthServerOptions): Promise<HealthServer> {
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
      return;
    }
    if (path === '/metrics' && opts.registry) {
      const registry = opts.registry;
      registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'Content-Type': registry.contentType }).end(text);
        },
        (err: unknown) => {
          opts.log.error({ err: errText(err) }, 'collecting metrics failed');
          res.writeHead(500).end();
        },
      );
      return;
    }
    const checks = path === '/healthz' ? opts.liveness : path === '/readyz' ? opts.readiness : undefined;
    if (!checks) {
      res.writeHead(404).end();
      return;
    }
    const result = runChecks(checks);
    if (!result.ok) opts.log.warn({ probe: path, checks: result.checks.filter((c) => !c.ok) }, 'probe failing');
    res.writeHead(result.ok ? 200 : 503, { 'Content-Type': 'application/json' }).end(JSON.stringify(result));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '0.0.0.0', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  opts.log.info({ port }, 'health and metrics server listening');
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
