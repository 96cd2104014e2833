// The apiextensions rules for a structural schema that a CRD must satisfy, as a pure check, so a
// broken schema is caught by a unit test instead of by `kubectl apply` on somebody's cluster.
import type { Json } from './crd.ts';

type Node = { [key: string]: Json };

const ALLOWED_KEYS = new Set([
  'type', 'format', 'title', 'description', 'default', 'enum', 'nullable', 'maximum', 'minimum',
  'exclusiveMaximum', 'exclusiveMinimum', 'maxLength', 'minLength', 'pattern', 'maxItems', 'minItems',
  'multipleOf', 'maxProperties', 'minProperties', 'required', 'items', 'properties', 'additionalProperties',
  'allOf', 'anyOf', 'oneOf', 'not', 'example', 'externalDocs',
  'x-kubernetes-preserve-unknown-fields', 'x-kubernetes-embedded-resource', 'x-kubernetes-int-or-string',
  'x-kubernetes-list-type', 'x-kubernetes-list-map-keys', 'x-kubernetes-map-type', 'x-kubernetes-validations',
]);
const TYPES = new Set(['object', 'array', 'string', 'integer', 'number', 'boolean']);

export function structuralProblems(schema: Node, path = ''): string[] {
  const problems: string[] = [];
  const at = path || '<root>';
  for (const key of Object.keys(schema)) {
    if (!ALLOWED_KEYS.has(key)) problems.push(`${at}: '${key}' is not allowed in a CRD schema`);
  }
  const untyped = schema['x-kubernetes-int-or-string'] === true || (schema['x-kubernetes-preserve-unknown-fields'] === true && !schema.properties);
  if (schema.type === undefined && !untyped) problems.push(`${at}: every schema node needs a type`);
  if (schema.type !== undefined && !TYPES.has(String(schema.type))) problems.push(`${at}: unknown type '${String(schema.type)}'`);
  if (schema.properties !== undefined && schema.additionalProperties !== undefined) {
    problems.push(`${at}: properties and additionalProperties are mutually exclusive`);
  }
  if (schema.additionalProperties === false) problems.push(`${at}: additionalProperties: false is not allowed (pruning closes objects)`);
  if (schema.type === 'array' && schema.items === undefined) problems.push(`${at}: an array needs items`);
  if (schema['x-kubernetes-list-map-keys'] !== undefined) {
    if (schema['x-kubernetes-list-type'] !== 'map') problems.push(`${at}: list-map-keys needs x-kubernetes-list-type: map`);
    const item = schema.items as Node | undefined;
    const required = new Set((item?.required as string[] | undefined) ?? []);
    for (const key of schema['x-kubernetes-list-map-keys'] as string[]) {
      if (!required.has(key)) problems.push(`${at}: list map key '${key}' must be required in items`);
    }
  }
  for (const [name, child] of Object.entries((schema.properties as Record<string, Node> | undefined) ?? {})) {
    problems.push(...structuralProblems(child, `${path}.${name}`));
  }
  if (schema.items && typeof schema.items === 'object' && !Array.isArray(schema.items)) {
    problems.push(...structuralProblems(schema.items as Node, `${path}[*]`));
  }
  for (const rule of (schema['x-kubernetes-validations'] as Node[] | undefined) ?? []) {
    if (typeof rule.rule !== 'string' || rule.rule === '') problems.push(`${at}: a validation needs a rule`);
    if (typeof rule.message !== 'string' || rule.message === '') problems.push(`${at}: a validation needs a message naming the field`);
  }
  return problems;
}
