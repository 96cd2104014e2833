// `spawner create -f`: SessionLivedBackend objects from a YAML or JSON file, including the original
// Spawner's manifests as they were written (containers without a name, a status block, no namespace).
// Pure: the text comes in, objects ready to POST come out, or a UsageError naming the document and field.
import { parseAllDocuments } from 'yaml';
import { API_VERSION, FINALIZER, KIND } from '../../common/contract.ts';
import type { SessionLivedBackend } from '../../common/spawner/types.ts';
import { APP_CONTAINER } from '../../common/spawner/backend.ts';
import { generateNameFor, prefixFromImage } from './build.ts';
import { UsageError } from './errors.ts';

// Fields the API server owns; a manifest saved with `kubectl get -o yaml` carries them.
const SERVER_METADATA = ['uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'managedFields', 'selfLink', 'finalizers', 'ownerReferences'];

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fail(source: string, index: number, total: number, message: string): never {
  const where = total > 1 ? `${source}, document ${index + 1}` : source;
  throw new UsageError(`${where}: ${message}`, 'create');
}

export function normalizeBackend(doc: unknown, source: string, index: number, total: number, namespace: { flag?: string; fallback: string }): SessionLivedBackend {
  if (!isObj(doc)) fail(source, index, total, 'is not an object');
  const apiVersion = doc.apiVersion;
  const kind = doc.kind;
  if (kind !== KIND || apiVersion !== API_VERSION) {
    const what = kind === undefined && apiVersion === undefined ? 'has no apiVersion and kind' : `is a ${String(kind)} (${String(apiVersion)})`;
    fail(source, index, total, `${what}; spawner create -f takes ${KIND} objects (apiVersion: ${API_VERSION}); use kubectl apply for anything else`);
  }
  const metadata: Obj = isObj(doc.metadata) ? { ...doc.metadata } : {};
  for (const key of SERVER_METADATA) delete metadata[key];
  // As common/spawner/backend.ts creates every backend: with the operator's finalizer already on, so
  // the operator's first reconcile goes straight to the Pod.
  metadata.finalizers = [FINALIZER];
  const spec = isObj(doc.spec) ? structuredClone(doc.spec) : fail(source, index, total, 'spec is missing');
  // A claim from a WarmPool has no template of its own (the API server refuses one, saying why); its
  // generated name says which pool it came from.
  const prefix = isObj(spec.poolRef) ? poolPrefix(spec.poolRef, source, index, total) : templatePrefix(spec, source, index, total);

  const own = typeof metadata.namespace === 'string' ? metadata.namespace : undefined;
  if (namespace.flag !== undefined && own !== undefined && own !== namespace.flag) {
    fail(source, index, total, `metadata.namespace is "${own}" but -n says "${namespace.flag}"; drop one of them`);
  }
  metadata.namespace = own ?? namespace.flag ?? namespace.fallback;
  if (typeof metadata.name !== 'string' && typeof metadata.generateName !== 'string') metadata.generateName = generateNameFor(prefix);
  return { apiVersion: API_VERSION, kind: KIND, metadata, spec } as unknown as SessionLivedBackend;
}

function poolPrefix(poolRef: Obj, source: string, index: number, total: number): string {
  if (typeof poolRef.name !== 'string' || poolRef.name === '') fail(source, index, total, 'spec.poolRef.name is missing (the WarmPool to claim from)');
  return poolRef.name;
}

// Checks the template and names unnamed containers; the generated name comes from the app's image.
function templatePrefix(spec: Obj, source: string, index: number, total: number): string {
  const template = isObj(spec.template) ? spec.template : fail(source, index, total, 'spec.template is missing (it holds the pod spec: containers, volumes, …; or spec.poolRef names a WarmPool to claim from)');
  const containers = template.containers;
  if (!Array.isArray(containers) || containers.length === 0) fail(source, index, total, 'spec.template.containers must list at least one container (the first is the app)');
  containers.forEach((c, i) => {
    if (!isObj(c)) fail(source, index, total, `spec.template.containers[${i}] is not an object`);
    if (typeof c.image !== 'string' || c.image.trim() === '') fail(source, index, total, `spec.template.containers[${i}].image is missing`);
    // The original Spawner named the containers itself; our schema needs a name.
    if (c.name === undefined) c.name = i === 0 ? APP_CONTAINER : `container-${i}`;
  });
  return prefixFromImage(String((containers[0] as Obj).image));
}

export function backendsFromManifest(text: string, source: string, namespace: { flag?: string; fallback: string }): SessionLivedBackend[] {
  const docs = parseAllDocuments(text);
  const values: unknown[] = [];
  const list = Array.isArray(docs) ? docs : [docs];
  for (const [i, d] of list.entries()) {
    if (d.errors.length) fail(source, i, list.length, `is not valid YAML or JSON: ${d.errors[0]!.message.split('\n')[0]}`);
    const value = d.toJS() as unknown;
    if (value === null || value === undefined) continue; // an empty document between `---` lines
    // A `kubectl get -o yaml` of several objects is a List.
    if (isObj(value) && value.kind === 'List' && Array.isArray(value.items)) values.push(...value.items);
    else values.push(value);
  }
  if (values.length === 0) throw new UsageError(`${source}: no objects in the file`, 'create');
  return values.map((v, i) => normalizeBackend(v, source, i, values.length, namespace));
}
