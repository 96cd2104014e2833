// The sidecar as its own process (`node [the image's Node flags] sidecar/src/main.ts`), as the Pod
// runs it: for the process tests and the sweeper's integration tests. Ports come from its 'sidecar
// started' log line, so port 0 works.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { nodeImage } from '../../images/node-images.ts';

export const SIDECAR_MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
// The sidecar image's own Node flags (e.g. --expose-gc for the memory reducer).
const IMAGE_NODE_ARGS = nodeImage('sidecar').nodeArgs;

export interface SidecarProcess {
  child: ChildProcess;
  proxyPort: number;
  adminPort: number;
  logLines: Record<string, unknown>[];
  // SIGTERM, then the exit code (SIGKILL after killAfterMs).
  stop(killAfterMs?: number): Promise<number | null>;
}

export interface SpawnOptions {
  args: string[];
  env?: Record<string, string>;
  startTimeoutMs?: number;
}

export function spawnSidecar(options: SpawnOptions): Promise<SidecarProcess> {
  const child = spawn(process.execPath, [...IMAGE_NODE_ARGS, SIDECAR_MAIN, ...options.args], {
    env: { ...process.env, LOG_LEVEL: 'info', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logLines: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;

  async function stop(killAfterMs = 30_000): Promise<number | null> {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.kill('SIGTERM');
    const [code] = await exited;
    clearTimeout(timer);
    return code;
  }

  return new Promise((resolve, reject) => {
    let buffered = '';
    const deadline = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`sidecar did not start within ${options.startTimeoutMs ?? 30_000} ms; stderr: ${stderr}`));
    }, options.startTimeoutMs ?? 30_000);
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        let parsed: Record<string, unknown>;
        try {
          parsed = JSON.parse(line) as Record<string, unknown>;
        } catch {
          continue;
        }
        logLines.push(parsed);
        if (parsed.msg === 'sidecar started') {
          clearTimeout(deadline);
          resolve({ child, proxyPort: Number(parsed.proxyPort), adminPort: Number(parsed.adminPort), logLines, stop });
        }
      }
    });
    void exited.then(([code]) => {
      clearTimeout(deadline);
      reject(new Error(`sidecar exited with ${code} before starting; stderr: ${stderr}`));
    });
  });
}

// Runs main.ts to completion (for configuration errors): exit code and stderr.
export async function runSidecarMain(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [...IMAGE_NODE_ARGS, SIDECAR_MAIN, ...args], { env: { ...cleanEnv(), ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stderr };
}

// The environment without any SIDECAR_* variable a developer may have set.
function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('SIDECAR_')) env[k] = v;
  return env;
}
