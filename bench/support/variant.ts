// A variant of a component's process that a benchmark compares with the process as its image runs it,
// given on the command line as `--variant 'NAME [ref=GIT-REF] [args=FLAG,FLAG…] [env=K=V,…]'`:
//   ref   the component's code as that commit has it (only where the benchmark supports it);
//   args  Node flags instead of the image's (`args=` alone: none, V8's defaults);
//   env   variables added to the process's environment (a value may hold `=`, `:` and `,`, e.g.
//         GLIBC_TUNABLES=glibc.malloc.arena_max=1:glibc.malloc.trim_threshold=131072); no spaces.
// One parser for bench/density/observer-alone.ts and bench/sidecar/run.ts.

export interface VariantSpec {
  name: string;
  ref: string | undefined; // undefined: this checkout
  nodeArgs: string[] | undefined; // undefined: the image's
  env: Record<string, string>;
}

export type VariantField = 'ref' | 'args' | 'env';

/** Parses one --variant; `fields` are those the benchmark supports (an other one is an error). */
export function parseVariant(spec: string, fields: readonly VariantField[] = ['ref', 'args', 'env']): VariantSpec {
  const [name, ...parts] = spec.trim().split(/\s+/);
  if (!name || name.includes('=')) throw new Error(`--variant '${spec}': a name first, then ${fields.map((f) => `${f}=`).join(', ')}`);
  const v: VariantSpec = { name, ref: undefined, nodeArgs: undefined, env: {} };
  for (const part of parts) {
    const eq = part.indexOf('=');
    const key = part.slice(0, eq) as VariantField;
    const value = part.slice(eq + 1);
    if (eq < 1 || !fields.includes(key)) throw new Error(`--variant '${spec}': unknown field '${part}' (${fields.map((f) => `${f}=`).join(', ')})`);
    if (key === 'ref') v.ref = value;
    else if (key === 'args') v.nodeArgs = value === '' ? [] : value.split(',');
    else {
      // A comma starts the next variable only where NAME= follows, so a value may hold commas too.
      for (const kv of value.split(/,(?=[A-Za-z_][A-Za-z0-9_]*=)/)) {
        const at = kv.indexOf('=');
        if (at < 1) throw new Error(`--variant '${spec}': env takes K=V,…, got '${kv}'`);
        v.env[kv.slice(0, at)] = kv.slice(at + 1);
      }
    }
  }
  return v;
}

/** How a variant starts, for a report: its Node flags (or the image's) and its added environment. */
export function describeVariant(v: VariantSpec, imageArgs: string[]): string {
  const env = Object.entries(v.env).map(([k, val]) => `${k}=${val}`);
  return [...env, 'node', ...(v.nodeArgs ?? imageArgs)].join(' ');
}
