// Benchmarks that hold thousands of sockets need as many descriptors. This re-runs the current script
// under `ulimit -n <wanted>` (or the hard limit, when that is lower and the raise is refused) when its
// limit is below that; the children it starts (nginx, the apps) inherit the limit. Returns only in the
// process that runs with the raised limit.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export function openFileLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
  return Number(line?.split(/\s+/)[3] ?? 1024);
}

export function withOpenFiles(wanted: number, marker: string): void {
  if (openFileLimit() >= wanted || process.env[marker]) return;
  const r = spawnSync(
    'bash',
    ['-c', `ulimit -n ${wanted} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"`, 'bash', process.execPath, ...process.execArgv, process.argv[1]!, ...process.argv.slice(2)],
    { stdio: 'inherit', env: { ...process.env, [marker]: '1' } },
  );
  process.exit(r.status ?? 1);
}
