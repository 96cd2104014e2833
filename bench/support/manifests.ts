// How a benchmark writes the backends it measures (--manifests): 'bare' as kubectl would (the operator
// patches its finalizer in first), 'spawner' as the CLI and POST /init do (common/spawner/backend.ts: the
// finalizer already on, one write less per backend).
export const MANIFESTS = ['bare', 'spawner'] as const;
export type Manifest = (typeof MANIFESTS)[number];

/** The comma-separated --manifests flag, each one checked. */
export function parseManifests(raw: string): Manifest[] {
  const manifests = raw.split(',').map((x) => x.trim()) as Manifest[];
  for (const m of manifests) if (!MANIFESTS.includes(m)) throw new Error(`--manifests: one or more of ${MANIFESTS.join(', ')}, got '${m}'`);
  return manifests;
}
