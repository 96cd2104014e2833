// What a V8 heap snapshot holds, by kind of object: count and self size per constructor (or string,
// array, code…), largest first; and the strings by length class. For the operator's snapshot from
// `node bench/operator/run.ts --heap-snapshot`:
//
//   node bench/operator/heapsnapshot-top.ts /tmp/spawner-bench-*/Heap.*.heapsnapshot [rows]
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]]; edge_fields: string[]; edge_types: [string[], ...unknown[]] } };
  nodes: number[];
  edges: number[];
  strings: string[];
}

const [file, rowsArg] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: node bench/operator/heapsnapshot-top.ts <file.heapsnapshot> [rows]\n');
  process.exit(2);
}
const rows = Number(rowsArg ?? 30);
const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
const fields = snap.snapshot.meta.node_fields;
const types = snap.snapshot.meta.node_types[0];
const width = fields.length;
const fType = fields.indexOf('type');
const fName = fields.indexOf('name');
const fSize = fields.indexOf('self_size');
const fEdges = fields.indexOf('edge_count');
const eFields = snap.snapshot.meta.edge_fields;
const eTypes = snap.snapshot.meta.edge_types[0];
const eWidth = eFields.length;
const eType = eFields.indexOf('type');
const eName = eFields.indexOf('name_or_index');
const byKind = new Map<string, { count: number; bytes: number }>();
let total = 0;
let edge = 0;
for (let i = 0; i < snap.nodes.length; i += width) {
  const type = types[snap.nodes[i + fType]!]!;
  const size = snap.nodes[i + fSize]!;
  total += size;
  const name = snap.strings[snap.nodes[i + fName]!]!;
  // Plain objects are told apart by their property names (a Pod's metadata, a condition, …).
  const props: string[] = [];
  const edges = snap.nodes[i + fEdges]!;
  for (let e = 0; e < edges; e++, edge += eWidth) {
    if (eTypes[snap.edges[edge + eType]!] === 'property') props.push(snap.strings[snap.edges[edge + eName]!]!);
  }
  const shape = name === 'Object' && props.length ? ` {${props.slice(0, 6).join(',')}${props.length > 6 ? ',…' : ''}}` : '';
  const key = type === 'object' || type === 'closure' || type === 'native' ? `${type} ${name}${shape}` : type;
  const e = byKind.get(key) ?? { count: 0, bytes: 0 };
  e.count++;
  e.bytes += size;
  byKind.set(key, e);
}
const top = [...byKind].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, rows);
process.stdout.write(`heap snapshot: ${(total / 1e6).toFixed(1)} MB in ${(snap.nodes.length / width).toLocaleString()} objects\n\n`);
process.stdout.write(`${'self MB'.padStart(9)} ${'count'.padStart(10)}  kind\n`);
for (const [k, e] of top) process.stdout.write(`${(e.bytes / 1e6).toFixed(2).padStart(9)} ${String(e.count).padStart(10)}  ${k.slice(0, 100)}\n`);
