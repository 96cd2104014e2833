import { describe, expect, test } from '@jest/globals';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import {
  ACCESS_TOKEN_LENGTH,
  accessModeOf,
  backendUrl,
  invitationUrl,
  mintAccessToken,
  parseAccessKey,
  uidKey,
  verifyAccessToken,
} from './access.ts';

const key = parseAccessKey(Buffer.from('0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'));
const otherKey = parseAccessKey(randomBytes(32));
const room = { namespace: 'spawner-backends', name: 'room-x7k2q', uid: '0b6f1c2e-8f51-4a57-9a43-1d2e3f4a5b6c' };
const token = mintAccessToken(key, room);

describe('parseAccessKey', () => {
  test('accepts 32 random bytes and 64 hex characters with a trailing newline', () => {
    expect(() => parseAccessKey(randomBytes(32))).not.toThrow();
    const hex = randomBytes(32).toString('hex');
    const a = parseAccessKey(Buffer.from(`${hex}\n`));
    const b = parseAccessKey(Buffer.from(hex));
    expect(verifyAccessToken(b, room.namespace, room.name, mintAccessToken(a, room)).valid).toBe(true);
  });

  test.each([
    ['empty', Buffer.alloc(0)],
    ['31 bytes', randomBytes(31)],
    ['short text padded with spaces', Buffer.from(`   ${'a'.repeat(20)}      \n\n\n\n\n\n\n\n`)],
  ])('refuses a key that is too short (%s), saying how long it must be', (_what, bytes) => {
    expect(() => parseAccessKey(bytes)).toThrow(/at least 32 bytes/);
  });
});

test('the MAC is HMAC-SHA256 (RFC 2104), truncated to 128 bits, for keys of every length', () => {
  for (const length of [32, 63, 64, 65, 100]) {
    const raw = randomBytes(length);
    const uid = randomUUID();
    const token = mintAccessToken(parseAccessKey(raw), { namespace: 'ns', name: 'room', uid });
    const expected = createHmac('sha256', raw)
      .update(`spawner-access-v1\0ns\0room\0`)
      .update(Buffer.from(uid.replace(/-/g, ''), 'hex'))
      .digest()
      .subarray(0, 16);
    expect(Buffer.from(token, 'base64url').subarray(17)).toEqual(expected);
  }
});

describe('tokens', () => {
  test('are 44 URL-safe characters that need no escaping in a query or a cookie', () => {
    expect(token).toHaveLength(ACCESS_TOKEN_LENGTH);
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(encodeURIComponent(token)).toBe(token);
  });

  test('a minted token verifies for its backend and names its uid', () => {
    expect(verifyAccessToken(key, room.namespace, room.name, token)).toEqual({ valid: true, uid: room.uid });
  });

  test('the uid is read case-insensitively and given back in lower case', () => {
    const upper = mintAccessToken(key, { ...room, uid: room.uid.toUpperCase() });
    expect(upper).toBe(token);
  });

  const flipped = (t: string, at: number) => t.slice(0, at) + (t[at] === 'A' ? 'B' : 'A') + t.slice(at + 1);
  test.each<[string, string, string, string | undefined, typeof key]>([
    ['missing', room.namespace, room.name, undefined, key],
    ['empty', room.namespace, room.name, '', key],
    ['too short', room.namespace, room.name, token.slice(0, 43), key],
    ['too long', room.namespace, room.name, `${token}A`, key],
    ['not base64url', room.namespace, room.name, `${token.slice(0, 43)}=`, key],
    ['a changed MAC byte', room.namespace, room.name, flipped(token, 40), key],
    ['a changed uid byte', room.namespace, room.name, flipped(token, 5), key],
    ['a changed version', room.namespace, room.name, flipped(token, 0), key],
    ['another backend’s name', room.namespace, 'room-other', token, key],
    ['the same name in another namespace', 'default', room.name, token, key],
    ['another cluster’s key', room.namespace, room.name, token, otherKey],
  ])('refuses a token that is %s', (_what, namespace, name, candidate, k) => {
    expect(verifyAccessToken(k, namespace, name, candidate)).toEqual({ valid: false, uid: '' });
  });

  test('a re-created backend of the same name gets a different token (its uid differs)', () => {
    const again = mintAccessToken(key, { ...room, uid: '9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d' });
    expect(again).not.toBe(token);
    expect(verifyAccessToken(key, room.namespace, room.name, again).uid).not.toBe(room.uid);
  });

  test('a uid that is not a UUID (a test double’s) is carried as a digest; uidKey says what a token names', () => {
    const odd = mintAccessToken(key, { ...room, uid: 'uid-slb' });
    const check = verifyAccessToken(key, room.namespace, room.name, odd);
    expect(check.valid).toBe(true);
    expect(check.uid).toBe(uidKey('uid-slb'));
    expect(uidKey('uid-slb')).not.toBe(uidKey('uid-slc'));
    expect(uidKey(room.uid.toUpperCase())).toBe(room.uid);
  });
});

describe('invitationUrl, backendUrl and accessModeOf', () => {
  test('the invitation carries the token unless the backend is public', () => {
    const slb = { metadata: room, spec: {} };
    expect(invitationUrl(slb, 'http://h', key)).toBe(`http://h/p/room-x7k2q/?token=${token}`);
    expect(invitationUrl({ ...slb, spec: { access: 'Public' } }, 'http://h/', key)).toBe('http://h/p/room-x7k2q/');
  });

  test.each([
    ['http://localhost:30080', undefined, 'http://localhost:30080/p/room-x7k2q/'],
    ['https://games.example/', 'abc', 'https://games.example/p/room-x7k2q/?token=abc'],
  ])('%s with token %s', (base, t, url) => {
    expect(backendUrl(base, room.name, t)).toBe(url);
  });

  test.each([
    [{}, 'Token'],
    [{ spec: {} }, 'Token'],
    [{ spec: { access: 'Token' } }, 'Token'],
    [{ spec: { access: 'Public' } }, 'Public'],
    [{ spec: { access: 'public' } }, 'Token'],
  ])('%j is %s', (slb, mode) => {
    expect(accessModeOf(slb)).toBe(mode);
  });
});
