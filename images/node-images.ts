// The Node images: which workspace each is built from, its entry file, and how Node is started in
// it. The one source for images/build.sh, images/Dockerfile.node (checked by images/test), and
// bench/sidecar, which runs the sidecar exactly as its image does.
//
// usage: node images/node-images.ts names                 the images, one per line
//        node images/node-images.ts field NAME workspace|entry
//        node images/node-images.ts entrypoint NAME       the image's ENTRYPOINT as JSON

export interface NodeImage {
  workspace: string; // the folder whose package.json and public/ the image carries
  entry: string; // the TypeScript entry file, relative to the repository
  // Node and V8 settings for this component only, each chosen by measurement (see the
  // component's README): they go on the command line, before the script.
  nodeArgs: string[];
}

export const NODE = '/usr/local/bin/node';
export const APP = '/app';
// Every Node image runs /app/main.js, a link to its compiled entry.
export const MAIN = `${APP}/main.js`;

// Type stripping is off in every image: a `.ts` file reaching the start path would fail at once
// instead of silently costing every process the stripper (images/test proves none does).
export const COMMON_ARGS = ['--no-experimental-strip-types'];

export const NODE_IMAGES: Record<string, NodeImage> = {
  operator: {
    workspace: 'operator',
    entry: 'operator/src/main.ts',
    // A young generation of 2 × 1 MB instead of V8's default (grown to 16 MB semi-spaces in a burst),
    // and V8's heuristics for size: what the operator keeps lives long (its caches), what it allocates
    // per event dies at once. bench/operator on kwok: at N = 1,000, two interleaved rounds, the small
    // young generation alone held RSS with all Ready at 133 (133–134) MB against 150 (148–152), at the
    // same throughput (92 against 95 backends/s to Pod created, 44 and 44 to Ready); at N = 5,000 it
    // still held 186 MB (heap used 32 MB of 81), and --optimize-for-size beside it 113 MB (heap used 31
    // of 40), 105 MB once settled, for 6.4 against 5.5 ms CPU a backend (the operator waits on the API
    // server: 87 % idle in a burst). The final run of bench/operator compares both, interleaved.
    nodeArgs: ['--optimize-for-size', '--max-semi-space-size=1'],
  },
  sidecar: {
    workspace: 'sidecar',
    entry: 'sidecar/src/main.ts',
    // A young generation of 2 × 2 MB instead of V8's default (grown to 32 MB semi-spaces under load):
    // a proxied request allocates ~25 KB, and in three interleaved runs the small nursery cost less
    // CPU per request (84 vs 104 µs, 72 vs 100, 95 vs 145) and held the peak of 8 × 1,000 WebSocket
    // churn at 107–112 MB instead of 140–160 (sidecar/README.md, "Start-up and memory").
    // --no-concurrent-recompilation: V8 optimises a hot function on the main thread instead of a
    // background one. The work is the same; the memory left after a burst is not (anonymous pages
    // 14.9 against 20.2 MB; why the background path keeps ~5 MB is not established): after
    // 8 × 1,000 WebSockets opened and closed, RSS 10 s later 63.3 (63.0–63.6) MB against 71.9
    // (67.8–73.4), 1.16× idle against 1.32×, per round 0.87× [0.86–0.93] (bench/sidecar, 4 rounds,
    // interleaved, load 4–5). Its cost is within the spread: per-round ratios of CPU per HTTP request
    // 1.00× [0.84–1.43] and 0.84× [0.64–2.09] in a second run (6 rounds, load 5.5–9.7), per WebSocket
    // message 1.15× [1.09–1.46] and 1.03× [0.86–1.16] (the image's own rounds ranged 1.7–2.3 and
    // 1.9–3.1 µs), start 0.95× [0.43–1.23] (20 starts). Unlike --max-opt, --no-maglev or --lite-mode, it
    // leaves V8's flag hash alone, so Node's code cache of its own modules still serves the start
    // (images/test checks); those cost the start 62 → 77 ms, or 2–3× CPU per request when set later.
    nodeArgs: ['--max-semi-space-size=2', '--no-concurrent-recompilation'],
  },
  sweeper: {
    workspace: 'sweeper',
    entry: 'sweeper/src/main.ts',
    // A young generation of 2 × 1 MB: the node observer reads /proc files into short-lived strings every
    // pass, and V8's default let the nursery grow to fill its semi-spaces. bench/density/observer-alone.ts,
    // 200 backends, interleaved: RSS 66.6–69.0 MiB against 79.2–83.0 with the default, at the same CPU
    // (1.15 % of a core idle against 0.94–1.16; 3.11 % against 3.13–3.19 with a connection open to each).
    // --max-opt=1: V8 compiles no further than its baseline compiler (Sparkplug), never with Maglev or
    // Turbofan. The observer's time is the kernel's (making /proc files) and its JavaScript is small, but
    // once Turbofan ran, its code (pages of the Node binary) and its work stayed resident: RSS split, 200
    // backends, idle: 39.5 MiB of file pages against 47.2, 13.9 anonymous against 16.8. Same run, three
    // rounds each, against Turbofan allowed (and, for reference, Maglev only): RSS idle 53.3 (53.3–53.4)
    // MiB against 64.0 (58.4 with Maglev), probed every 10 s 56.7 against 69.0 (63.3), one connection open
    // to each 53.7 against 65.6 (59.6); CPU idle 0.83 % of a core against 0.84, probed 1.38 against 1.38,
    // all open 4.70 against 4.08 (the kernel's share 3.33 against 2.91: user time 1.37 against 1.17 %).
    // Its price: with the flag on the command line V8 rejects Node's code cache of its own modules, which
    // are then compiled from source at start (62 → 77 ms measured for the sidecar), once per node here.
    // --memory-saver-mode: V8 grows the old generation's limit past what survived the last full collection
    // conservatively (a factor of at most 1.3, in steps of 2 MB) rather than by at least 8 MB (V8's
    // heap-controller: the growing it uses under memory pressure, made the rule).
    // The observer promotes its per-read state steadily (a read a second per Pod, through a 1 MB nursery),
    // so with the default its heap ran up to ~8 MB of garbage above the ~7 MB live before V8 collected it:
    // at 200 backends probed every 10 s, RSS 59.9 MiB (62.8 MB, over issue 10's 60 MB). Same run, 125 s
    // windows, two interleaved rounds, against these flags without it (load 0.0–2.6): RSS idle 53.5
    // (53.4–53.6) MiB against 53.7, probed 55.8 (55.7–55.8) against 59.9 (59.8–60.1), one connection open
    // to each 55.0 (54.9–55.1) against 57.0 (56.9–57.0): per round 0.996×, 0.930× (0.928–0.932), 0.966×;
    // CPU 0.67 against 0.67 % of a core, 1.17 against 1.07, 1.83 against 1.73: per round 1.005×
    // (0.971–1.040), 1.093× (1.023–1.162), 1.059× (1.054–1.065) — the more frequent full collections.
    // --optimize-for-size gave the same heap but cost more CPU: per round 1.20× probed, 1.12× all active
    // against 1.13× and 1.01× for this flag, same RSS (one run, 60 s windows, two rounds, load 1.4–4.3).
    nodeArgs: ['--max-semi-space-size=1', '--max-opt=1', '--memory-saver-mode'],
  },
  'drop-four': { workspace: 'demo', entry: 'demo/src/server.ts', nodeArgs: [] },
  router: { workspace: 'router', entry: 'router/src/main.ts', nodeArgs: [] },
};

export function nodeImage(name: string): NodeImage {
  const image = NODE_IMAGES[name];
  if (!image) throw new Error(`unknown Node image '${name}' (known: ${Object.keys(NODE_IMAGES).join(', ')})`);
  return image;
}

/** The image's ENTRYPOINT: Node, its settings, the compiled entry. Flags given to the container follow. */
export function entrypoint(name: string): string[] {
  return [NODE, ...COMMON_ARGS, ...nodeImage(name).nodeArgs, MAIN];
}

if (import.meta.main) {
  const [command, name, field] = process.argv.slice(2);
  try {
    switch (command) {
      case 'names':
        process.stdout.write(`${Object.keys(NODE_IMAGES).join('\n')}\n`);
        break;
      case 'entrypoint':
        process.stdout.write(`${JSON.stringify(entrypoint(name ?? ''))}\n`);
        break;
      case 'field': {
        const image = nodeImage(name ?? '');
        if (field !== 'workspace' && field !== 'entry') throw new Error(`field must be workspace or entry, got '${field}'`);
        process.stdout.write(`${image[field]}\n`);
        break;
      }
      default:
        throw new Error('usage: node images/node-images.ts names | field NAME workspace|entry | entrypoint NAME');
    }
  } catch (err) {
    process.stderr.write(`node-images.ts: ${(err as Error).message}\n`);
    process.exit(2);
  }
}
