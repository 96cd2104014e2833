// acceptsConnection on real sockets on loopback.
import { expect, test } from '@jest/globals';
import { loopbackPorts } from './loopback-ports.ts';
import { acceptsConnection } from '../tcp-connect.ts';

const ports = loopbackPorts();

test.each([
  ['a listening port: accepted', () => ports.open, undefined, true],
  ['nothing listening: refused', () => ports.closed, undefined, false],
  ['a listening port, asked with an aborted signal: false', () => ports.open, AbortSignal.abort(), false],
])('%s', async (_what, port, signal, accepted) => {
  expect(await acceptsConnection('127.0.0.1', port(), 1000, signal)).toBe(accepted);
});
