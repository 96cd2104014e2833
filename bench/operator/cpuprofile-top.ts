// Where a V8 CPU profile spent its time: the functions with the most self time and the most total time
// (self plus callees). For the operator's profile from `node bench/operator/run.ts --profile`:
//
//   node bench/operator/cpuprofile-top.ts /tmp/spawner-bench-*/CPU.*.cpuprofile [rows]
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, rowsArg] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: node bench/operator/cpuprofile-top.ts <file.cpuprofile> [rows]\n');
  process.exit(2);
}
const rows = Number(rowsArg ?? 30);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const label = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber + 1}`;

const selfUs = new Map<number, number>();
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const self = new Map<string, number>();
const total = new Map<string, number>();
let all = 0;
for (const [id, us] of selfUs) {
  all += us;
  const key = label(byId.get(id)!);
  self.set(key, (self.get(key) ?? 0) + us);
  const counted = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const k = label(byId.get(cur)!);
    if (counted.has(k)) continue; // recursion counts once
    counted.add(k);
    total.set(k, (total.get(k) ?? 0) + us);
  }
}
const top = (m: Map<string, number>) =>
  [...m].sort((a, b) => b[1] - a[1]).slice(0, rows).map(([k, us]) => `${(us / 1000).toFixed(0).padStart(8)} ms  ${k}`).join('\n');
process.stdout.write(`profile: ${(all / 1000).toFixed(0)} ms sampled\n\nself time\n${top(self)}\n\ntotal time\n${top(total)}\n`);
