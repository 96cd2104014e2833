// docs/api/openapi.yaml describes the API the code serves: the same routes, fields and limits.
import { readFileSync } from 'node:fs';
import { describe, expect, test } from '@jest/globals';
import { parse } from 'yaml';
import { DEFAULT_HTTP_API_LIMITS } from '../../src/http-api/config.ts';
import { HttpApiError, FIELDS, parseInitRequest, route } from '../../src/http-api/validate.ts';

interface Schema { properties: Record<string, { minimum?: number; maximum?: number; maxProperties?: number }>; additionalProperties: boolean }
const doc = parse(readFileSync(new URL('../../../docs/api/openapi.yaml', import.meta.url), 'utf8')) as {
  paths: Record<string, Record<string, { requestBody?: { content: Record<string, { examples: Record<string, { value: unknown }> }> } }>>;
  components: { schemas: { InitRequest: Schema } };
};
const init = doc.components.schemas.InitRequest;
// The documented bounds are those of the shipped configuration.
const defaults = { image: 'a:1', ...DEFAULT_HTTP_API_LIMITS };

function refusal(body: unknown): HttpApiError | undefined {
  try {
    parseInitRequest(JSON.stringify(body), defaults);
    return undefined;
  } catch (err) {
    return err as HttpApiError;
  }
}

describe('docs/api/openapi.yaml', () => {
  test('every documented operation is routed to a handler, and nothing else is', () => {
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`));
    expect(documented.sort()).toEqual(['DELETE /backends/{name}', 'GET /backends/{name}/status', 'GET /backends/{name}/status/stream', 'GET /healthz', 'POST /init']);
    for (const op of documented) {
      const [method, p] = op.split(' ') as [string, string];
      expect(() => route(method, p.replace('{name}', 'session-x7k2p'))).not.toThrow();
    }
  });

  test('InitRequest lists exactly the fields the validator accepts, and no others', () => {
    expect(Object.keys(init.properties).sort()).toEqual([...FIELDS].sort());
    expect(init.additionalProperties).toBe(false);
  });

  test.each(['port', 'gracePeriodSeconds', 'maxLifetimeSeconds'])('%s: the documented bounds are the enforced ones', (field) => {
    const { minimum, maximum } = init.properties[field]!;
    expect(refusal({ [field]: minimum })).toBeUndefined();
    expect(refusal({ [field]: maximum })).toBeUndefined();
    expect(refusal({ [field]: minimum! - 1 })?.field).toBe(field);
    expect(refusal({ [field]: maximum! + 1 })?.field).toBe(field);
  });

  test('env: the documented maximum count is enforced', () => {
    const max = init.properties.env!.maxProperties!;
    const env = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`V${i}`, '']));
    expect(refusal({ env: env(max) })).toBeUndefined();
    expect(refusal({ env: env(max + 1) })?.field).toBe('env');
  });

  test('the request examples are accepted', () => {
    const examples = doc.paths['/init']!.post!.requestBody!.content['application/json']!.examples;
    for (const { value } of Object.values(examples)) expect(refusal(value)).toBeUndefined();
  });
});
