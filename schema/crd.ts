// Pure transformations of the schema source: into the CRD object, and into plain JSON Schema for
// json-schema-to-typescript and for validators (which know nothing of the x-kubernetes-* extensions).
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

export interface SchemaSource {
  group: string;
  version: string;
  names: { kind: string; listKind: string; plural: string; singular: string; shortNames: string[]; categories: string[] };
  printerColumns: JsonObject[];
  selectableFields: JsonObject[];
  spec: JsonObject;
  status: JsonObject;
}

export const SOURCE_PATH = new URL('./sessionlivedbackend.yaml', import.meta.url);

export async function loadSource(): Promise<SchemaSource> {
  return parse(await readFile(SOURCE_PATH, 'utf8')) as SchemaSource;
}

// Keys that only the type generator understands; the API server rejects them.
const GENERATOR_ONLY = new Set(['tsType']);

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
    Object.fromEntries(Object.entries(obj).filter(([k]) => !GENERATOR_ONLY.has(k)));
  return {
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
}

export function crdFromSource(source: SchemaSource): JsonObject {
  const { names } = source;
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
      versions: [
        {
          name: source.version,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: source.printerColumns,
          selectableFields: source.selectableFields,
          schema: { openAPIV3Schema: openApiSchema(source) },
        },
      ],
    },
  };
}

// Plain JSON Schema: preserve-unknown-fields becomes additionalProperties: true, every other object is
// closed, and the Kubernetes extensions are dropped. `keepTsType` is for the type generator only.
export function plainJsonSchema(node: Json, keepTsType: boolean): Json {
  return mapSchema(node, (obj) => {
    const out: JsonObject = {};
    for (const [key, value] of Object.entries(obj)) {
      if (key.startsWith('x-kubernetes-')) continue;
      if (key === 'tsType' && !keepTsType) continue;
      out[key] = value;
    }
    if (obj.type === 'object' && out.additionalProperties === undefined) {
      out.additionalProperties = obj['x-kubernetes-preserve-unknown-fields'] === true;
    }
    return out;
  });
}

export function typesSchemaFromSource(source: SchemaSource): JsonObject {
  const kind = source.names.kind;
  return {
    type: 'object',
    additionalProperties: false,
    properties: {
      spec: { ...(plainJsonSchema(source.spec, true) as JsonObject), title: `${kind}Spec` },
      status: { ...(plainJsonSchema(source.status, true) as JsonObject), title: `${kind}Status` },
    },
  };
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
