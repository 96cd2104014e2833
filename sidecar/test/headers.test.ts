import { describe, expect, test } from '@jest/globals';
import { formatResponseHead, forwardRequestHeaders, forwardResponseHeaders, plainAddress, refusedUpgradeHeaders } from '../src/headers.ts';

const client = { remoteAddress: '10.1.2.3', method: 'GET', upgrade: false };

describe('forwardRequestHeaders', () => {
  test.each([
    {
      name: 'keeps names, order and repeats; adds X-Forwarded-*',
      raw: ['Host', 'app.example', 'X-Custom-Case', 'a', 'Accept', 'x', 'Accept', 'y'],
      client,
      out: ['Host', 'app.example', 'X-Custom-Case', 'a', 'Accept', 'x', 'Accept', 'y', 'X-Forwarded-For', '10.1.2.3', 'X-Forwarded-Proto', 'http', 'X-Forwarded-Host', 'app.example'],
    },
    {
      name: 'appends to X-Forwarded-* set by a proxy in front',
      raw: ['host', 'h', 'x-forwarded-for', '1.1.1.1', 'X-Forwarded-For', '2.2.2.2', 'x-forwarded-proto', 'https', 'x-forwarded-host', 'public.example'],
      client,
      out: ['host', 'h', 'X-Forwarded-For', '1.1.1.1, 2.2.2.2, 10.1.2.3', 'X-Forwarded-Proto', 'https, http', 'X-Forwarded-Host', 'public.example, h'],
    },
    {
      name: 'drops hop-by-hop headers and those named in Connection',
      raw: ['Host', 'h', 'Connection', 'keep-alive, X-Hop', 'Keep-Alive', 'timeout=5', 'X-Hop', '1', 'TE', 'trailers', 'Proxy-Connection', 'x', 'X-End', '2'],
      client,
      out: ['Host', 'h', 'X-End', '2', 'X-Forwarded-For', '10.1.2.3', 'X-Forwarded-Proto', 'http', 'X-Forwarded-Host', 'h'],
    },
    {
      name: 'a chunked body stays chunked',
      raw: ['Host', 'h', 'Transfer-Encoding', 'chunked'],
      client: { ...client, method: 'POST' },
      out: ['Host', 'h', 'Transfer-Encoding', 'chunked', 'X-Forwarded-For', '10.1.2.3', 'X-Forwarded-Proto', 'http', 'X-Forwarded-Host', 'h'],
    },
    {
      name: 'a POST without a body says so instead of becoming chunked',
      raw: ['Host', 'h'],
      client: { ...client, method: 'POST' },
      out: ['Host', 'h', 'Content-Length', '0', 'X-Forwarded-For', '10.1.2.3', 'X-Forwarded-Proto', 'http', 'X-Forwarded-Host', 'h'],
    },
    {
      name: 'a sized body keeps its length',
      raw: ['Host', 'h', 'Content-Length', '5'],
      client: { ...client, method: 'PUT' },
      out: ['Host', 'h', 'Content-Length', '5', 'X-Forwarded-For', '10.1.2.3', 'X-Forwarded-Proto', 'http', 'X-Forwarded-Host', 'h'],
    },
    {
      name: 'an upgrade keeps Upgrade and says Connection: Upgrade',
      raw: ['Host', 'h', 'Connection', 'Upgrade', 'Upgrade', 'websocket', 'Sec-WebSocket-Key', 'k'],
      client: { ...client, upgrade: true },
      out: ['Host', 'h', 'Sec-WebSocket-Key', 'k', 'X-Forwarded-For', '10.1.2.3', 'X-Forwarded-Proto', 'http', 'X-Forwarded-Host', 'h', 'Connection', 'Upgrade', 'Upgrade', 'websocket'],
    },
    {
      name: 'an Upgrade header on a plain request is dropped',
      raw: ['Host', 'h', 'Upgrade', 'h2c'],
      client,
      out: ['Host', 'h', 'X-Forwarded-For', '10.1.2.3', 'X-Forwarded-Proto', 'http', 'X-Forwarded-Host', 'h'],
    },
    {
      name: 'IPv4-mapped client address is written plainly',
      raw: ['Host', 'h'],
      client: { ...client, remoteAddress: '::ffff:127.0.0.1' },
      out: ['Host', 'h', 'X-Forwarded-For', '127.0.0.1', 'X-Forwarded-Proto', 'http', 'X-Forwarded-Host', 'h'],
    },
  ])('$name', ({ raw, client, out }) => {
    expect(forwardRequestHeaders(raw, client)).toEqual(out);
  });
});

describe('forwardResponseHeaders', () => {
  test.each([
    { raw: ['Content-Type', 'text/plain', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2'], out: ['Content-Type', 'text/plain', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2'] },
    { raw: ['Transfer-Encoding', 'chunked', 'Connection', 'keep-alive', 'Keep-Alive', 'timeout=5', 'X-A', '1'], out: ['X-A', '1'] },
    { raw: ['Connection', 'close, X-Secret', 'X-Secret', 's', 'Content-Length', '3'], out: ['Content-Length', '3'] },
  ])('%j', ({ raw, out }) => {
    expect(forwardResponseHeaders(raw)).toEqual(out);
  });

  test('a refused upgrade closes its connection', () => {
    expect(refusedUpgradeHeaders(['Transfer-Encoding', 'chunked', 'X-Why', 'no'])).toEqual(['X-Why', 'no', 'Connection', 'close']);
  });
});

describe('formatResponseHead', () => {
  test('writes the status line and headers as given', () => {
    expect(formatResponseHead(101, 'Switching Protocols', ['Upgrade', 'websocket', 'Connection', 'Upgrade'])).toBe(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
    );
    expect(formatResponseHead(502, 'Bad Gateway', [], ['Connection', 'close'])).toBe('HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\n\r\n');
  });
});

describe('plainAddress', () => {
  test.each([
    ['::ffff:10.0.0.1', '10.0.0.1'],
    ['10.0.0.1', '10.0.0.1'],
    ['::1', '::1'],
    ['fe80::ffff:1', 'fe80::ffff:1'],
    [undefined, undefined],
  ])('%s → %s', (input, output) => {
    expect(plainAddress(input)).toBe(output);
  });
});
