import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout this harness lives in; caches and the run record are kept under its `.cache/`. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const cacheDir = path.join(repoRoot, '.cache');

/**
 * Where the running cluster is recorded. One record per checkout by default; SPAWNER_CLUSTER_STATE
 * gives a separate one so two suites in the same checkout do not tear down each other's cluster.
 */
export function defaultStateFile(env: NodeJS.ProcessEnv = process.env): string {
  return env.SPAWNER_CLUSTER_STATE || path.join(cacheDir, 'cluster', 'current.json');
}

// The project's CRDs (npm run generate writes them), installed by `up` unless SPAWNER_CLUSTER_CRDS says otherwise.
export const defaultCrdPaths = ['sessionlivedbackends.spawner.dev.yaml', 'warmpools.spawner.dev.yaml'].map((f) => path.join(repoRoot, 'manifests', 'crd', f));
