import { describe, expect, test } from '@jest/globals';
import { imageConfig } from '../assemble.ts';
import type { ImageSpec } from '../assemble.ts';

const spec: ImageSpec = {
  tag: 'localhost/spawner/sidecar:0.1.0',
  out: '/tmp/x.tar',
  layers: ['/a', '/b'],
  entrypoint: ['/usr/local/bin/node', '/app/main.js'],
  user: '65532:65532',
  workdir: '/app',
  env: ['NODE_ENV=production'],
  labels: { 'org.opencontainers.image.title': 'spawner-sidecar' },
};

describe('imageConfig', () => {
  test('runs the entrypoint as the given user, layers in order as diff ids, reproducible dates', () => {
    const c = imageConfig(spec, ['aa', 'bb']) as {
      config: Record<string, unknown>;
      rootfs: { diff_ids: string[] };
      created: string;
      history: unknown[];
    };
    expect(c.config).toMatchObject({ Entrypoint: spec.entrypoint, User: '65532:65532', WorkingDir: '/app' });
    expect(c.config.Env).toEqual(expect.arrayContaining(['NODE_ENV=production', expect.stringMatching(/^PATH=.*\/usr\/sbin/)]));
    expect(c.rootfs.diff_ids).toEqual(['sha256:aa', 'sha256:bb']);
    expect(c.history).toHaveLength(2);
    expect(c.created).toBe('1970-01-01T00:00:00Z');
  });

  test('leaves out what was not given', () => {
    const c = imageConfig({ ...spec, entrypoint: undefined, user: undefined, workdir: undefined }, ['aa']) as { config: Record<string, unknown> };
    expect(Object.keys(c.config).sort()).toEqual(['Env', 'Labels']);
  });
});
