// The node observer alone, as its own process (so its CPU time and memory are its own), following the
// Pods given in a JSON file for a warm-up and then a measured window; prints one JSON line with what it
// cost. Run by observer-alone.ts as an unprivileged user, as the sweeper runs.
//   node bench/density/observer-process.ts CONFIG.json
import { readFileSync, writeFileSync } from 'node:fs';
import v8 from 'node:v8';
import { createLogger } from '../../common/log.ts';
import { kbField } from '../support/proc-fields.ts';
import { NodeObserver } from '../../sweeper/src/node/observer.ts';

interface Config {
  pods: Array<{ uid: string; ip: string }>;
  appPort: number;
  intervalMs: number;
  activeIntervalMs: number;
  warmupSeconds: number;
  seconds: number;
}
const config = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Config;
const observer = new NodeObserver({ log: createLogger('observer', 'warn'), intervalMs: config.intervalMs, activeIntervalMs: config.activeIntervalMs });
let observations = 0;
let unreachable = 0;
for (const pod of config.pods) {
  observer.observe(pod.uid, { uid: pod.uid, appPort: config.appPort, podIPs: [pod.ip] }, {
    observation: () => void observations++,
    unreachable: () => void unreachable++,
  });
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// A field of /proc/self/status or smaps_rollup, MiB (NaN when the kernel has no such file or field).
const procMiB = (file: 'status' | 'smaps_rollup', field: string) => {
  try {
    return kbField(readFileSync(`/proc/self/${file}`, 'utf8'), field) / 1024;
  } catch {
    return NaN;
  }
};
const vm = (field: string) => procMiB('status', field);

await sleep(config.warmupSeconds * 1000);
// The peak then counts from the window's start, not from the first reads of every Pod at start-up
// (writing 5 to clear_refs resets VmHWM; a kernel before 4.0 refuses it, and the peak is the process's).
try {
  writeFileSync('/proc/self/clear_refs', '5');
} catch {}
const before = { cpu: process.cpuUsage(), at: performance.now(), stats: { ...observer.stats } };
await sleep(config.seconds * 1000);
const cpu = process.cpuUsage(before.cpu);
const elapsedMs = performance.now() - before.at;
const mem = process.memoryUsage();
const MiB = (bytes: number) => bytes / 1024 / 1024;
const s = observer.stats;
// V8's heap by space, what each holds from the system: the young generation (new_space) against the
// old one and the code, to tell garbage in flight from what is kept.
const spaces = v8.getHeapSpaceStatistics();
const space = (name: string) => MiB(spaces.find((x) => x.space_name === name)?.physical_space_size ?? NaN);
const heap = v8.getHeapStatistics();
const perSecond = (now: number, then: number) => ((now - then) * 1000) / elapsedMs;
console.log(
  JSON.stringify({
    pods: config.pods.length,
    cpuPercentOfOneCore: ((cpu.user + cpu.system) / 1000 / elapsedMs) * 100,
    systemCpuPercentOfOneCore: (cpu.system / 1000 / elapsedMs) * 100, // in the kernel: making the /proc files
    rssMiB: vm('VmRSS'),
    peakRssMiB: vm('VmHWM'),
    rssAnonMiB: vm('RssAnon'), // the process's own memory (heap, malloc)
    rssFileMiB: vm('RssFile'), // pages of files mapped: mostly the Node binary's code
    // Where the RSS goes: V8's heap (reserved, and in use), memory outside it that V8 knows of.
    heapTotalMiB: MiB(mem.heapTotal),
    heapUsedMiB: MiB(mem.heapUsed),
    externalMiB: MiB(mem.external),
    arrayBuffersMiB: MiB(mem.arrayBuffers),
    heapPhysicalMiB: MiB(heap.total_physical_size),
    heapNewMiB: space('new_space'),
    heapOldMiB: space('old_space'),
    heapCodeMiB: space('code_space'),
    heapLargeMiB: space('large_object_space'),
    mallocedMiB: MiB(heap.malloced_memory), // V8's own malloc, not Node's
    // Anonymous memory outside V8's heap: malloc (Node's and V8's), thread stacks.
    outsideHeapMiB: procMiB('smaps_rollup', 'Anonymous') - MiB(heap.total_physical_size),
    ticksPerSecond: perSecond(s.ticks, before.stats.ticks),
    counterReadsPerSecond: perSecond(s.counterReads, before.stats.counterReads),
    socketCountReadsPerSecond: perSecond(s.socketCountReads, before.stats.socketCountReads),
    podTableReadsPerSecond: perSecond(s.tableReads, before.stats.tableReads),
    nodeTableReadsPerSecond: perSecond(s.hostTableReads, before.stats.hostTableReads),
    lastTickMs: s.lastTickMs,
    observations,
    unreachable,
  }),
);
observer.stop();
process.exit(0);
