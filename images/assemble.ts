// Writes an image archive in `docker save` layout (manifest.json, the config JSON, one tar per layer)
// from folders on disk, without a Docker engine or a registry; `ctr images import` reads it.
// Layers are made reproducible (sorted names, fixed times, root ownership), so a layer shared by
// several images (the Node runtime) has one digest and is stored once by containerd.
//
// usage: node images/assemble.ts --tag REF --out FILE --layer DIR [--layer DIR]… [--entrypoint JSON]
//        [--cmd JSON] [--user UID[:GID]] [--workdir DIR] [--env K=V]… [--label K=V]…
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';

export interface ImageSpec {
  tag: string;
  out: string;
  layers: string[];
  entrypoint?: string[];
  cmd?: string[];
  user?: string;
  workdir?: string;
  env: string[];
  labels: Record<string, string>;
}

function die(message: string): never {
  process.stderr.write(`assemble.ts: ${message}\n`);
  process.exit(2);
}

export function parseArgs(argv: string[]): ImageSpec {
  const spec: ImageSpec = { tag: '', out: '', layers: [], env: [], labels: {} };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) die(`${flag} needs a value`);
      return v;
    };
    const json = (): string[] => {
      const raw = value();
      const parsed = JSON.parse(raw) as unknown;
      if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === 'string')) die(`${flag} needs a JSON array of strings, got ${raw}`);
      return parsed as string[];
    };
    switch (flag) {
      case '--tag': spec.tag = value(); break;
      case '--out': spec.out = value(); break;
      case '--layer': spec.layers.push(value()); break;
      case '--entrypoint': spec.entrypoint = json(); break;
      case '--cmd': spec.cmd = json(); break;
      case '--user': spec.user = value(); break;
      case '--workdir': spec.workdir = value(); break;
      case '--env': spec.env.push(value()); break;
      case '--label': {
        const [k, ...v] = value().split('=');
        spec.labels[k!] = v.join('=');
        break;
      }
      default: die(`unknown flag ${flag}`);
    }
  }
  if (!/^[a-z0-9.-]+(:\d+)?\/[a-z0-9._/-]+:[A-Za-z0-9._-]+$/.test(spec.tag)) die(`--tag must be a fully qualified reference like localhost/spawner/x:0.1.0, got '${spec.tag}'`);
  if (!spec.out) die('--out is required');
  if (spec.layers.length === 0) die('at least one --layer is required');
  return spec;
}

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The image config: what runs, as whom, and the layers' uncompressed digests in order. */
export function imageConfig(spec: ImageSpec, diffIds: string[]): Record<string, unknown> {
  const config: Record<string, unknown> = {
    Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', ...spec.env],
    Labels: spec.labels,
  };
  if (spec.entrypoint) config.Entrypoint = spec.entrypoint;
  if (spec.cmd) config.Cmd = spec.cmd;
  if (spec.user) config.User = spec.user;
  if (spec.workdir) config.WorkingDir = spec.workdir;
  return {
    architecture: 'amd64',
    os: 'linux',
    created: '1970-01-01T00:00:00Z',
    config,
    rootfs: { type: 'layers', diff_ids: diffIds.map((d) => `sha256:${d}`) },
    history: diffIds.map((_, i) => ({ created: '1970-01-01T00:00:00Z', created_by: `images/assemble.ts layer ${i + 1}` })),
  };
}

async function main(): Promise<void> {
  const spec = parseArgs(process.argv.slice(2));
  const work = await mkdtemp(path.join(os.tmpdir(), 'spawner-image-'));
  try {
    const diffIds: string[] = [];
    const layerPaths: string[] = [];
    for (const dir of spec.layers) {
      if (!(await stat(dir)).isDirectory()) die(`--layer ${dir} is not a folder`);
      const tmp = path.join(work, `layer-${diffIds.length}.tar`);
      await execa('tar', [
        '--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '--format=gnu',
        '-C', dir, '-cf', tmp, '.',
      ]);
      const digest = await sha256(tmp);
      await mkdir(path.join(work, digest), { recursive: true });
      await rename(tmp, path.join(work, digest, 'layer.tar'));
      diffIds.push(digest);
      layerPaths.push(`${digest}/layer.tar`);
    }
    const configJson = JSON.stringify(imageConfig(spec, diffIds));
    const configDigest = createHash('sha256').update(configJson).digest('hex');
    await writeFile(path.join(work, `${configDigest}.json`), configJson);
    await writeFile(
      path.join(work, 'manifest.json'),
      JSON.stringify([{ Config: `${configDigest}.json`, RepoTags: [spec.tag], Layers: layerPaths }]),
    );
    await mkdir(path.dirname(path.resolve(spec.out)), { recursive: true });
    const partial = `${spec.out}.partial`;
    await execa('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-C', work, '-cf', partial, '.']);
    await rename(partial, spec.out);
    process.stdout.write(`${spec.tag} sha256:${configDigest}\n`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
