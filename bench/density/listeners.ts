// The one process that stands in for the apps of many test namespaces (listeners.c): built here with
// gcc, started with the namespaces' paths, ready once every socket listens. Needs root (setns).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Netns } from '../../sweeper/test/support/netns-lab.ts';

const repoRoot = path.resolve(import.meta.dirname, '../..');

export async function startListeners(namespaces: Netns[], port = 8080): Promise<ChildProcess> {
  const binary = path.join(repoRoot, '.cache', 'bench', 'listeners');
  mkdirSync(path.dirname(binary), { recursive: true });
  execFileSync('gcc', ['-O2', '-o', binary, path.join(import.meta.dirname, 'listeners.c')]);
  const child = spawn(binary, [String(port), ...namespaces.map((ns) => `/var/run/netns/${ns.name}`)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', () => resolve());
    child.once('exit', (code) => reject(new Error(`listeners exited ${code}`)));
  });
  return child;
}
