// The operator process refuses a missing or short access key at start, naming the flag and never a
// byte of the key, before it talks to any API server.
import { expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { operatorMain } from './support/operator-process.ts';

function run(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [operatorMain, ...args], { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stderr })));
}

test.each([
  ['a key file that is not there', (_dir: string) => '/nonexistent/key', /--access-key-file \(SPAWNER_ACCESS_KEY_FILE\) '\/nonexistent\/key' cannot be used: cannot read/],
  ['a key that is too short', (dir: string) => path.join(dir, 'short'), /--access-key-file \(SPAWNER_ACCESS_KEY_FILE\) '.*short' cannot be used: the access key must be at least 32 bytes/],
])('exit 2 for %s', async (_what, file, message) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'operator-main-'));
  try {
    writeFileSync(path.join(dir, 'short'), 'sixteen-byte-key');
    const r = await run([`--access-key-file=${file(dir)}`, '--kubeconfig=/dev/null']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toContain('sixteen-byte-key');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
