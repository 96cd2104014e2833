// Runs Spawner's real nginx config in a test: render.sh into a temp prefix, nginx in the foreground
// as a child on a free loopback port, stopped by its pid.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, chmodSync, closeSync, constants, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const NGINX_DIR = fileURLToPath(new URL('..', import.meta.url));
const DEADLINE_MS = 15_000;

// Debian installs nginx in /usr/sbin, which a non-root PATH often lacks.
export function findNginx(): string | null {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/usr/local/nginx/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, 'nginx');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

export interface RenderResult {
  status: number | null;
  stderr: string;
}

export function render(outDir: string, env: Record<string, string | undefined>): RenderResult {
  const clean: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  for (const [key, value] of Object.entries(env)) if (value !== undefined) clean[key] = value;
  const result = spawnSync('sh', [join(NGINX_DIR, 'render.sh'), outDir], { env: clean, encoding: 'utf8' });
  return { status: result.status, stderr: result.stderr };
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface RunningNginx {
  port: number;
  prefix: string;
  output: () => string; // access log (stdout) and error log (stderr) so far
  stop(): Promise<void>;
}

export interface NginxSettings {
  namespace: string;
  routePort: number; // where the route service listens on 127.0.0.1
  env?: Record<string, string>; // further SPAWNER_* settings (limits, workers)
}

function probe(port: number): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/healthz', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

async function launch(nginx: string, settings: NginxSettings, port: number): Promise<RunningNginx> {
  const prefix = mkdtempSync(join(tmpdir(), 'spawner-nginx-'));
  // Run as root, nginx's workers drop to `nobody`, who must be able to read the waiting page.
  chmodSync(prefix, 0o755);
  const rendered = render(prefix, {
    SPAWNER_BACKEND_NAMESPACE: settings.namespace,
    SPAWNER_LISTEN_PORT: String(port),
    SPAWNER_ROUTE_PORT: String(settings.routePort),
    // Two workers whatever the machine, so tests see what several workers do (per-client limits are
    // shared between them) without one per core of a big machine.
    SPAWNER_WORKER_PROCESSES: '2',
    SPAWNER_WORKER_CONNECTIONS: '4096',
    ...settings.env,
  });
  if (rendered.status !== 0) throw new Error(`render.sh failed: ${rendered.stderr}`);

  // nginx opens /dev/stdout for its access log, which fails on the socket a 'pipe' would give it;
  // a plain file works (as does the FIFO a container runtime gives it).
  const logPath = join(prefix, 'output.log');
  const logFd = openSync(logPath, 'a');
  const child: ChildProcess = spawn(nginx, ['-p', `${prefix}/`, '-c', 'nginx.conf'], { stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  const output = () => readFileSync(logPath, 'utf8');
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));

  const stop = async () => {
    if (!exited) child.kill('SIGTERM');
    await exit;
    rmSync(prefix, { recursive: true, force: true });
  };

  const deadline = Date.now() + DEADLINE_MS;
  while (!exited && Date.now() < deadline) {
    if ((await probe(port)) === 200) return { port, prefix, output, stop };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const text = output();
  await stop();
  throw new Error(`nginx did not become healthy on port ${port}: ${text}`);
}

// The port is found free, then handed to nginx: another process may take it in between, so a
// failed bind is retried on a new port.
export async function startNginx(nginx: string, settings: NginxSettings): Promise<RunningNginx> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await launch(nginx, settings, await freePort());
    } catch (err) {
      lastError = err;
      if (!String(err).includes('Address already in use')) throw err;
    }
  }
  throw lastError;
}
