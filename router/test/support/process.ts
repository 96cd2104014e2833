// The route service as its own process (`node router/src/main.ts`), as the router Pod runs it, for the
// process tests, the integration tests and the benchmark. Its ports come from its 'route service
// listening' log line, so port 0 works.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

export const ROUTER_MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

export interface RouterProcess {
  child: ChildProcess;
  address: string; // host:port of /route
  healthPort: number;
  out(): string; // stdout so far (JSON log lines)
  err(): string;
  logLines(): Array<Record<string, unknown>>;
  ready(timeoutMs?: number): Promise<void>; // /readyz answers 200
  stop(): Promise<number | null>; // SIGTERM, then the exit code
}

export function runRouterMain(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [ROUTER_MAIN, ...args], {
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'debug', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return { child, exited, out: () => stdout, err: () => stderr };
}

export async function startRouterProcess(args: string[], env: Record<string, string> = {}, startTimeoutMs = 30_000): Promise<RouterProcess> {
  const p = runRouterMain(['--port=0', '--health-port=0', '--shutdown-delay-seconds=0', ...args], env);
  const logLines = () =>
    p
      .out()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  const deadline = Date.now() + startTimeoutMs;
  let started: Record<string, unknown> | undefined;
  while (!started) {
    started = logLines().find((l) => l.msg === 'route service listening');
    if (started) break;
    if (p.child.exitCode !== null || Date.now() > deadline) {
      p.child.kill('SIGKILL');
      throw new Error(`the route service did not start: ${p.err()}${p.out()}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  const healthPort = started.healthPort as number;
  return {
    child: p.child,
    address: started.address as string,
    healthPort,
    out: p.out,
    err: p.err,
    logLines,
    async ready(timeoutMs = 60_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const status = await fetch(`http://127.0.0.1:${healthPort}/readyz`).then((r) => r.status, () => 0);
        if (status === 200) return;
        if (Date.now() > until) throw new Error(`the route service is not ready: ${p.out().slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      if (p.child.exitCode === null) p.child.kill('SIGTERM');
      return p.exited;
    },
  };
}
