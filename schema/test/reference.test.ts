import { describe, expect, test } from '@jest/globals';
import type { SchemaSource } from '../crd.ts';
import { REFERENCE_BEGIN, REFERENCE_END, renderReference, withReference } from '../reference.ts';

const source: SchemaSource = {
  group: 'example.dev',
  version: 'v1',
  names: { kind: 'Thing', listKind: 'ThingList', plural: 'things', singular: 'thing', shortNames: ['th'], categories: [] },
  printerColumns: [{ name: 'Phase' }, { name: 'Reason', priority: 1 }],
  selectableFields: [],
  subresources: { status: {}, scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas' } },
  validations: [{ rule: 'true', message: 'the name is a label' }],
  spec: {
    type: 'object',
    required: ['port'],
    properties: {
      port: { type: 'integer', default: 8080, minimum: 1, maximum: 65535, description: 'The | port.' },
      pod: { type: 'object', tsType: 'V1PodSpec', 'x-kubernetes-preserve-unknown-fields': true },
      items: { type: 'array', minItems: 1, items: { type: 'object', required: ['name'], properties: { name: { type: 'string', pattern: '^[a-z]+$' } } } },
      mode: { type: 'string', enum: ['a', 'b'], 'x-spawner-default': 'a', 'x-kubernetes-validations': [{ rule: 'true', message: 'mode is checked' }] },
    },
  },
  status: { type: 'object', properties: { when: { type: 'string', format: 'date-time' } } },
};

describe('renderReference', () => {
  const text = renderReference([source]);
  test.each([
    ['a required field with default and bounds', '| `spec.port` | integer | `8080` | required; ≥ 1; ≤ 65535 | The \\| port. |'],
    ['a free-form object named by its tsType', '| `spec.pod` | object (PodSpec) |'],
    ['array items with their own required fields', '| `spec.items[].name` | string |  | required; matches `^[a-z]+$` |'],
    ['an enum and a CEL rule message', '| `spec.mode` | string | `"a"` | one of `"a"`, `"b"`; mode is checked |'],
    ['a status format', '| `status.when` | string |  | date-time |'],
    ['the header names wide-only columns', 'shows Phase, Reason (with `-o wide`).'],
    ['a section per kind', '### Thing\n'],
    ['object-level rules', '- the name is a label'],
    ['a default applied in code', '| `spec.mode` | string | `"a"` |'],
    ['the subresources', 'short names `th`, status and scale subresources;'],
  ])('%s', (_what, line) => {
    expect(text).toContain(line);
  });
  test('is wrapped in the markers', () => {
    expect(text.startsWith(REFERENCE_BEGIN)).toBe(true);
    expect(text.endsWith(REFERENCE_END)).toBe(true);
  });
});

describe('withReference', () => {
  test('replaces only the block between the markers', () => {
    const doc = `# Title\n${REFERENCE_BEGIN}\nold\n${REFERENCE_END}\ntail\n`;
    expect(withReference(doc, `${REFERENCE_BEGIN}\nnew\n${REFERENCE_END}`)).toBe(`# Title\n${REFERENCE_BEGIN}\nnew\n${REFERENCE_END}\ntail\n`);
  });
  test('refuses a document without the markers', () => {
    expect(() => withReference('# no block', 'x')).toThrow(/has no/);
  });
});
