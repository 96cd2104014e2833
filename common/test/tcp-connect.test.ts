// acceptsConnection on real sockets on loopback.
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { openAndClosedPorts } from '../../e2e/harness/net.ts';
import { acceptsConnection } from '../tcp-connect.ts';

let openPort: number;
let closedPort: number;
let closePorts: () => Promise<void>;
beforeAll(async () => {
  ({ openPort, closedPort, close: closePorts } = await openAndClosedPorts());
});
afterAll(() => closePorts());

test.each([
  ['a listening port: accepted', () => openPort, undefined, true],
  ['nothing listening: refused', () => closedPort, undefined, false],
  ['a listening port, asked with an aborted signal: false', () => openPort, AbortSignal.abort(), false],
])('%s', async (_what, port, signal, accepted) => {
  expect(await acceptsConnection('127.0.0.1', port(), 1000, signal)).toBe(accepted);
});
