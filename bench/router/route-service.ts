// The route service with a table in memory instead of an informer, as its own process (as in the
// router Pod), for bench/router/run.ts. Prints one JSON line {"port": N} once it listens.
//   node bench/router/route-service.ts --key-hex HEX --entries JSON [--no-token-check]
// --no-token-check replaces the HMAC check with one that checks nothing (every backend must then be
// public): the "without the token check" side of the comparison.
import { Registry } from 'prom-client';
import { parseArgs } from 'node:util';
import { createLogger } from '../../common/log.ts';
import { parseAccessKey } from '../../common/spawner/access.ts';
import type { RouteEntry } from '../../router/src/decide.ts';
import { startRouteService } from '../../router/src/service.ts';
import { StaticRouteTable } from '../../router/src/table.ts';

const { values } = parseArgs({ options: { 'key-hex': { type: 'string' }, entries: { type: 'string' }, 'no-token-check': { type: 'boolean', default: false } } });
if (!values['key-hex'] || !values.entries) {
  process.stderr.write('usage: route-service.ts --key-hex HEX --entries JSON [--no-token-check]\n');
  process.exit(2);
}
const service = await startRouteService({
  namespace: 'spawner-backends',
  key: parseAccessKey(Buffer.from(values['key-hex'], 'hex')),
  table: new StaticRouteTable(JSON.parse(values.entries) as RouteEntry[]),
  fresh: async () => undefined,
  host: '127.0.0.1',
  port: 0,
  cookieSecure: 'auto',
  readiness: [],
  registry: new Registry(),
  log: createLogger('router', 'warn'),
  ...(values['no-token-check'] ? { verify: () => ({ valid: false, uid: '' }) } : {}),
});
process.stdout.write(`${JSON.stringify({ port: service.port })}\n`);
process.on('SIGTERM', () => void service.close().then(() => process.exit(0)));
