// criVersion against a gRPC-shaped HTTP/2 server on a Unix socket made here: what containerd answers
// before and after its CRI plugin is initialised, and the ways a call can fail.
import { afterEach, describe, expect, test } from '@jest/globals';
import http2 from 'node:http2';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { criAnswer, criVersion, CRI_VERSION_PATH } from './cri.ts';

let server: http2.Http2Server | undefined;
let dir: string | undefined;

afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

type Reply = { trailersOnly?: boolean; status: number; message?: string };

async function serve(reply: Reply): Promise<{ socket: string; paths: string[] }> {
  dir = mkdtempSync(path.join(os.tmpdir(), 'cri-test-'));
  const socket = path.join(dir, 'containerd.sock');
  const paths: string[] = [];
  server = http2.createServer();
  server.on('stream', (stream, headers) => {
    paths.push(String(headers[':path']));
    stream.resume();
    stream.on('end', () => {
      const status = { 'grpc-status': String(reply.status), ...(reply.message ? { 'grpc-message': encodeURIComponent(reply.message) } : {}) };
      if (reply.trailersOnly) {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc', ...status }, { endStream: true });
        return;
      }
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers(status));
      stream.end(Buffer.from([0, 0, 0, 0, 0]));
    });
  });
  await new Promise<void>((resolve) => server!.listen(socket, resolve));
  return { socket, paths };
}

describe('criVersion', () => {
  test.each<[string, Reply, boolean, string | undefined]>([
    ['initialised: OK in the trailers', { status: 0 }, true, undefined],
    ['not yet initialised (containerd answers UNKNOWN)', { status: 2, message: 'server is not initialized yet' }, false, 'gRPC status 2: server is not initialized yet'],
    ['a trailers-only refusal', { trailersOnly: true, status: 12, message: 'unknown service runtime.v1.RuntimeService' }, false, 'gRPC status 12: unknown service runtime.v1.RuntimeService'],
  ])('%s', async (_what, reply, ok, message) => {
    const { socket, paths } = await serve(reply);
    const answer = await criVersion(socket);
    expect(answer).toEqual(ok ? { ok: true } : { ok: false, message });
    expect(paths).toEqual([CRI_VERSION_PATH]);
  });

  test('no socket: not ok, with the reason', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'cri-test-'));
    const answer = await criVersion(path.join(dir, 'absent.sock'));
    expect(answer.ok).toBe(false);
    expect(answer.ok ? '' : answer.message).toMatch(/ENOENT/);
  });
});

describe('criAnswer', () => {
  test.each<[string, Record<string, string | number>, Record<string, string>, boolean]>([
    ['HTTP/2 status other than 200', { ':status': 503 }, {}, false],
    ['no grpc-status anywhere', { ':status': 200 }, {}, false],
    ['grpc-status 0 in the trailers', { ':status': 200 }, { 'grpc-status': '0' }, true],
    ['grpc-status 0 in the headers (trailers-only)', { ':status': 200, 'grpc-status': '0' }, {}, true],
  ])('%s', (_what, headers, trailers, ok) => {
    expect(criAnswer(headers, trailers).ok).toBe(ok);
  });
});
