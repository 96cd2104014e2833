// Pure transformations of the schema sources: fragments inlined, then into the CRD objects, and into
// plain JSON Schema for json-schema-to-typescript and for validators (which know nothing of the
// x-kubernetes-* extensions).
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { NAME_CEL_RULES, type CelRule } from '../common/spawner/names.ts';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

export interface SchemaSource {
  group: string;
  version: string;
  names: { kind: string; listKind: string; plural: string; singular: string; shortNames: string[]; categories: string[] };
  printerColumns: JsonObject[];
  selectableFields?: JsonObject[];
  subresources?: JsonObject; // default: the status subresource only
  validations?: JsonObject[]; // CEL rules on the whole object (e.g. on metadata.name)
  spec: JsonObject;
  status: JsonObject;
}

// Named schema parts several kinds share (schema/backend.yaml).
export type Fragments = Record<string, Json>;

export const FRAGMENTS_PATH = new URL('./backend.yaml', import.meta.url);
// Every kind, in the order the reference and the generated types list them.
export const KIND_PATHS = [new URL('./sessionlivedbackend.yaml', import.meta.url), new URL('./warmpool.yaml', import.meta.url)];

const USE = '$use';

export async function loadFragments(): Promise<Fragments> {
  return parse(await readFile(FRAGMENTS_PATH, 'utf8')) as Fragments;
}

/** Every kind's source as written, fragments not yet inlined. */
export async function loadKindFiles(): Promise<Json[]> {
  return Promise.all(KIND_PATHS.map(async (p) => parse(await readFile(p, 'utf8')) as Json));
}

// Object-level CEL rules written in code, because code applies the same rule: the backend name rule
// (common/spawner/names.ts), which the CLI and the HTTP API check before they send anything.
const CODE_VALIDATIONS: Record<string, CelRule[]> = { SessionLivedBackend: NAME_CEL_RULES };

/** Every kind's source with its fragments inlined, and its rules from code added. */
export async function loadSources(): Promise<SchemaSource[]> {
  const fragments = await loadFragments();
  return (await loadKindFiles()).map((file) => {
    const source = resolveUses(file, fragments) as unknown as SchemaSource;
    const fromCode = CODE_VALIDATIONS[source.names.kind] ?? [];
    if (fromCode.length) source.validations = [...(source.validations ?? []), ...(fromCode as unknown as JsonObject[])];
    return source;
  });
}

export async function loadSource(kind: string): Promise<SchemaSource> {
  const found = (await loadSources()).find((s) => s.names.kind === kind);
  if (!found) throw new Error(`no schema source for kind ${kind}`);
  return found;
}

function deepCopy<T extends Json>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/**
 * Replaces every `{ $use: NAME, ...overrides }` by a copy of the fragment NAME with the overrides on top.
 * `asRef(name, fragment)` may answer a replacement instead (the type generator turns titled fragments into
 * $refs so that each becomes one shared interface).
 */
export function resolveUses(node: Json, fragments: Fragments, asRef?: (name: string, fragment: Json) => Json | undefined): Json {
  if (Array.isArray(node)) return node.map((n) => resolveUses(n, fragments, asRef));
  if (node === null || typeof node !== 'object') return node;
  const use = node[USE];
  if (use !== undefined) {
    if (typeof use !== 'string' || !(use in fragments)) throw new Error(`unknown schema fragment '${String(use)}' (fragments: ${Object.keys(fragments).join(', ')})`);
    const { [USE]: _name, ...overrides } = node;
    const ref = Object.keys(overrides).length === 0 ? asRef?.(use, fragments[use]!) : undefined;
    if (ref !== undefined) return ref;
    const base = resolveUses(deepCopy(fragments[use]!), fragments, asRef) as JsonObject;
    return { ...base, ...(resolveUses(overrides, fragments, asRef) as JsonObject) };
  }
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(node)) {
    out[key] = key === 'default' || key === 'enum' ? value : resolveUses(value, fragments, asRef);
  }
  return out;
}

// Keys that only the generators understand; the API server rejects them: tsType, and x-spawner-* notes for
// the reference (x-spawner-default: a default every reader applies in code, see backend.yaml).
export function generatorOnly(key: string): boolean {
  return key === 'tsType' || key.startsWith('x-spawner-');
}

function mapSchema(node: Json, visit: (obj: JsonObject) => JsonObject): Json {
  if (Array.isArray(node)) return node.map((n) => mapSchema(n, visit));
  if (node === null || typeof node !== 'object') return node;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(node)) {
    // `default` and `enum` hold data, not schemas: copy them untouched.
    out[key] = key === 'default' || key === 'enum' ? value : mapSchema(value, visit);
  }
  return visit(out);
}

export function openApiSchema(source: SchemaSource): JsonObject {
  const strip = (obj: JsonObject): JsonObject =>
    Object.fromEntries(Object.entries(obj).filter(([k]) => !generatorOnly(k)));
  const schema: JsonObject = {
    type: 'object',
    required: ['spec'],
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata: { type: 'object' },
      spec: mapSchema(source.spec, strip),
      status: mapSchema(source.status, strip),
    },
  };
  if (source.validations?.length) schema['x-kubernetes-validations'] = source.validations;
  return schema;
}

export function crdFromSource(source: SchemaSource): JsonObject {
  const { names } = source;
  const version: JsonObject = {
    name: source.version,
    served: true,
    storage: true,
    subresources: source.subresources ?? { status: {} },
    additionalPrinterColumns: source.printerColumns,
  };
  if (source.selectableFields?.length) version.selectableFields = source.selectableFields;
  version.schema = { openAPIV3Schema: openApiSchema(source) };
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${names.plural}.${source.group}`,
      labels: { 'app.kubernetes.io/name': 'spawner', 'app.kubernetes.io/component': 'crd' },
    },
    spec: {
      group: source.group,
      scope: 'Namespaced',
      names: { ...names },
      versions: [version],
    },
  };
}

/** Where each kind's CRD manifest goes, relative to the repository: manifests/crd/<plural>.<group>.yaml. */
export function crdFileName(source: SchemaSource): string {
  return `${source.names.plural}.${source.group}.yaml`;
}

// Plain JSON Schema: preserve-unknown-fields becomes additionalProperties: true, every other object is
// closed, and the Kubernetes extensions are dropped. `keepTsType` is for the type generator only.
export function plainJsonSchema(node: Json, keepTsType: boolean): Json {
  return mapSchema(node, (obj) => {
    const out: JsonObject = {};
    for (const [key, value] of Object.entries(obj)) {
      if (key.startsWith('x-kubernetes-') || key.startsWith('x-spawner-')) continue;
      if (key === 'tsType' && !keepTsType) continue;
      out[key] = value;
    }
    if (obj.type === 'object' && out.additionalProperties === undefined && out.$ref === undefined) {
      out.additionalProperties = obj['x-kubernetes-preserve-unknown-fields'] === true;
    }
    return out;
  });
}

/**
 * One schema for json-schema-to-typescript holding every kind's spec and status. Titled fragments
 * (SidecarSpec, Condition) become $refs to shared definitions, so each is declared once.
 */
export function typesSchema(kindFiles: Json[], fragments: Fragments): JsonObject {
  const definitions: JsonObject = {};
  const asRef = (name: string, fragment: Json): Json | undefined => {
    if (typeof fragment !== 'object' || fragment === null || Array.isArray(fragment)) return undefined;
    const titled = typeof fragment.title === 'string' || (fragment.type === 'array' && typeof (fragment.items as JsonObject)?.title === 'string');
    if (!titled) return undefined;
    definitions[name] ??= plainJsonSchema(resolveUses(fragment, fragments), true);
    return { $ref: `#/definitions/${name}` };
  };
  const properties: JsonObject = {};
  for (const file of kindFiles) {
    const source = resolveUses(file, fragments, asRef) as unknown as SchemaSource;
    const kind = source.names.kind;
    properties[`${kind}Spec`] = { ...(plainJsonSchema(source.spec, true) as JsonObject), title: `${kind}Spec` };
    properties[`${kind}Status`] = { ...(plainJsonSchema(source.status, true) as JsonObject), title: `${kind}Status` };
  }
  return { type: 'object', additionalProperties: false, definitions, properties };
}

// The schema a validator checks a whole document against, as the API server would after defaulting.
export function validationSchema(source: SchemaSource): JsonObject {
  return plainJsonSchema(
    {
      ...openApiSchema(source),
      properties: {
        apiVersion: { type: 'string', const: `${source.group}/${source.version}` },
        kind: { type: 'string', const: source.names.kind },
        metadata: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
        spec: source.spec,
        status: source.status,
      },
      required: ['apiVersion', 'kind', 'metadata', 'spec'],
    },
    false,
  ) as JsonObject;
}
