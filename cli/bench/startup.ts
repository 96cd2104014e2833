// How long one `spawner` invocation takes, end to end, as a shell runs it: Node start, type stripping,
// module loading, and for `get` one list request. Prints the median and worst of N runs per command.
// usage: node cli/bench/startup.ts [N]   (KUBECONFIG must name a cluster for the `get` rows)
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const bin = path.resolve(import.meta.dirname, '../bin/spawner');
const runs = Number(process.argv[2] ?? 10);
const commands: string[][] = [['version'], ['get', '--bogus'], ['completion', 'bash'], ...(process.env.KUBECONFIG ? [['get'], ['get', '-A', '-o', 'json']] : [])];

for (const args of commands) {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    spawnSync(bin, args, { stdio: 'ignore' });
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)]!;
  process.stdout.write(`spawner ${args.join(' ').padEnd(22)} median ${median.toFixed(0).padStart(5)} ms   max ${times[times.length - 1]!.toFixed(0).padStart(5)} ms   (${runs} runs)\n`);
}
