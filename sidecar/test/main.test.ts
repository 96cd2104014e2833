// The sidecar as a process: configuration checked at start (exit 2 naming the flag or variable), then
// serving, then SIGTERM → drain → exit 0.
import { describe, expect, jest, test } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BackendActivity } from '../../common/contract.ts';
import { getJson, openWs, request, startUpstream, waitFor } from './helpers.ts';
import { runSidecarMain, spawnSidecar } from './process.ts';

jest.setTimeout(60_000);

describe('configuration', () => {
  test.each<{ args: string[]; env: Record<string, string>; names: string }>([
    { args: [], env: {}, names: '--upstream-port (or SIDECAR_UPSTREAM_PORT) is required' },
    { args: ['--upstream-port=http'], env: {}, names: "--upstream-port = 'http' is invalid" },
    { args: ['--upstream-port=8080', '--proxy-port=70000'], env: {}, names: "--proxy-port = '70000' is invalid" },
    { args: ['--upstream-port=8080'], env: { SIDECAR_ADMIN_PORT: 'x' }, names: "SIDECAR_ADMIN_PORT = 'x' is invalid" },
    { args: ['--upstream-port=8080', '--heartbeat-seconds=0'], env: {}, names: "--heartbeat-seconds = '0' is invalid" },
    { args: ['--upstream-port=8080', '--bogus=1'], env: {}, names: 'unknown flag --bogus' },
  ])('$names', async ({ args, env, names }) => {
    const { code, stderr } = await runSidecarMain(args, env);
    expect(code).toBe(2);
    expect(stderr).toContain(names);
  });
});

describe('process', () => {
  test('serves both ports, logs JSON with the backend name, exits 0 on SIGTERM', async () => {
    const upstream = await startUpstream((_req, res) => res.end('from the app'));
    try {
      const sidecar = await spawnSidecar({
        args: [`--upstream-port=${upstream.port}`, '--proxy-port=0', '--admin-port=0', '--listen-host=127.0.0.1', '--probe-fast-ms=20'],
        env: { POD_NAMESPACE: 'team', BACKEND_NAME: 'b1' },
      });
      try {
        expect((await request(sidecar.proxyPort, { path: '/' })).body.toString()).toBe('from the app');
        expect(await getJson<BackendActivity>(sidecar.adminPort, '/status')).toMatchObject({ active_connections: 0, listening: true, ready: true });
      } finally {
        expect(await sidecar.stop()).toBe(0);
      }
      expect(sidecar.logLines.find((l) => l.msg === 'sidecar started')).toMatchObject({ namespace: 'team', name: 'b1', component: 'sidecar' });
      expect(sidecar.logLines.map((l) => l.msg)).toContain('sidecar stopped');
    } finally {
      await upstream.close();
    }
  });
});

describe('memory', () => {
  test('after a burst of WebSockets opened and closed, and a quiet spell, it hands the heap back (once)', async () => {
    const upstream = await startUpstream((_req, res) => res.end('ok'));
    try {
      const sidecar = await spawnSidecar({
        args: [`--upstream-port=${upstream.port}`, '--proxy-port=0', '--admin-port=0', '--listen-host=127.0.0.1'],
      });
      try {
        // 3,000 connections, 200 at a time: enough to grow the heap well past the reducer's threshold.
        for (let batch = 0; batch < 15; batch++) {
          const sockets = await Promise.all(Array.from({ length: 200 }, () => openWs(sidecar.proxyPort)));
          await Promise.all(sockets.map((ws) => new Promise((resolve) => ws.once('close', resolve).close())));
        }
        const reduced = await waitFor(() => sidecar.logLines.find((l) => l.msg === 'returned memory after a burst of connections'), 'the memory reducer', 45_000);
        expect(Number(reduced.afterMb)).toBeLessThan(Number(reduced.heapMb));
        expect(await getJson<BackendActivity>(sidecar.adminPort, '/status')).toMatchObject({ active_connections: 0 });
      } finally {
        expect(await sidecar.stop()).toBe(0);
      }
      expect(sidecar.logLines.filter((l) => l.msg === 'returned memory after a burst of connections')).toHaveLength(1);
    } finally {
      await upstream.close();
    }
  });
});

test('loads nothing it does not use: no TLS, crypto, undici, HTTP/2, zlib, worker threads or pino', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sidecar-modules-'));
  const list = path.join(dir, 'modules');
  // Written when the process exits: every internal module and binding it loaded.
  const hook = path.join(dir, 'hook.mjs');
  writeFileSync(hook, `process.on('exit', () => process.getBuiltinModule('fs').writeFileSync(${JSON.stringify(list)}, process.moduleLoadList.join('\\n')));\n`);
  const upstream = await startUpstream((_req, res) => res.end('ok'));
  try {
    const sidecar = await spawnSidecar({
      args: [`--upstream-port=${upstream.port}`, '--proxy-port=0', '--admin-port=0', '--listen-host=127.0.0.1'],
      env: { NODE_OPTIONS: `--import=${hook}` },
    });
    try {
      await request(sidecar.proxyPort, { path: '/' });
      const ws = await openWs(sidecar.proxyPort);
      await new Promise((resolve) => ws.once('close', resolve).close());
      await getJson(sidecar.adminPort, '/status');
    } finally {
      expect(await sidecar.stop()).toBe(0);
    }
    const loaded = readFileSync(list, 'utf8').split('\n');
    expect(loaded).toContain('NativeModule http');
    expect(loaded.filter((m) => /^NativeModule (tls|crypto|https|http2|zlib|worker_threads|internal\/deps\/undici\/undici)$/.test(m))).toEqual([]);
  } finally {
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
