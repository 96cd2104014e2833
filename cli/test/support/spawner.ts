// Runs the real `spawner` binary (cli/bin/spawner) as a child process, as a person's shell would.
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';

export const repoRoot = path.resolve(import.meta.dirname, '../../..');
export const spawnerBin = path.join(repoRoot, 'cli/bin/spawner');

export interface Run {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  kubeconfig?: string; // KUBECONFIG for the child; '' for none
  env?: Record<string, string>;
  input?: string;
  timeoutMs?: number;
}

function childEnv(o: RunOptions): Record<string, string> {
  // No kubeconfig of the machine's user leaks in: HOME points at the repository, which has no .kube.
  return { KUBECONFIG: o.kubeconfig ?? process.env.KUBECONFIG ?? '', HOME: repoRoot, ...o.env };
}

export async function spawner(args: string[], o: RunOptions = {}): Promise<Run> {
  const r = await execa(spawnerBin, args, {
    env: childEnv(o),
    extendEnv: true,
    reject: false,
    input: o.input,
    stdin: o.input === undefined ? 'ignore' : undefined,
    timeout: o.timeoutMs ?? 180_000,
  });
  return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** A long-running spawner (get --watch): output is collected as it comes. */
export function spawnerLive(args: string[], o: RunOptions = {}): { child: ResultPromise; output: () => string; errors: () => string } {
  const child = execa(spawnerBin, args, { env: childEnv(o), extendEnv: true, reject: false, stdin: 'ignore', buffer: false });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  return { child, output: () => out, errors: () => err };
}
