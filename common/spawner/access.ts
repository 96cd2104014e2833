// Session access tokens: the capability a backend's URL carries (`?token=…`), minted by the operator
// and checked by the route service before any byte reaches the backend.
//
// A token is base64url(version ‖ uid ‖ mac): the backend's uid (16 bytes, from its UUID) and
// HMAC-SHA256, truncated to 128 bits, over (namespace, name, uid) under the cluster's access key. It
// carries the uid so a verifier needs no lookup to check the MAC, and a token outlives nothing: a
// re-created backend of the same name has a new uid, so its predecessor's token no longer matches it.
//
// Verification does the same work for every input — a missing, malformed, wrong or valid token all
// cost one HMAC and one constant-time comparison — so how long an answer takes says nothing about why
// it was refused. The key and tokens are never logged; nothing here logs at all.
import { hash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SPEC_DEFAULTS } from './spec.ts';

// The query parameter and the cookie (scoped to /p/<name>/) that carry a token. The route service
// removes both before the request reaches the app.
export const ACCESS_TOKEN_PARAM = 'token';
export const ACCESS_COOKIE = 'spawner_token';

// The Secret (in the operator's namespace) holding the cluster's key, and the file it is mounted as.
export const ACCESS_KEY_SECRET = 'spawner-access-key';
export const ACCESS_KEY_SECRET_ENTRY = 'key';
export const ACCESS_KEY_FILE = '/etc/spawner-access/key';
export const ACCESS_KEY_MIN_BYTES = 32;

export type AccessMode = 'Token' | 'Public';

const VERSION = 1;
const UID_BYTES = 16;
const MAC_BYTES = 16;
const TOKEN_BYTES = 1 + UID_BYTES + MAC_BYTES;
export const ACCESS_TOKEN_LENGTH = Math.ceil((TOKEN_BYTES * 4) / 3); // 44 base64url characters, no padding
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{44}$/;
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

// The key as HMAC-SHA256 uses it (RFC 2104): padded to the hash's 64-byte block and XORed with the
// inner and outer pads, once. Each MAC is then two one-shot hashes, without setting a key up per call
// (createHmac does, and on the route service's hot path that was half the cost of a check).
export interface AccessKey {
  readonly innerPad: Buffer;
  readonly outerPad: Buffer;
}

const BLOCK = 64;

export interface BackendIdentity {
  namespace: string;
  name: string;
  uid: string;
}

export interface TokenCheck {
  valid: boolean;
  uid: string; // the uid the token names when valid (compare with uidKey); '' otherwise
}

// The key is the Secret entry's bytes. Text (e.g. `openssl rand -hex 32` pasted into a Secret) is
// trimmed of surrounding whitespace, so a trailing newline written by an editor does not change it.
export function parseAccessKey(bytes: Uint8Array): AccessKey {
  let raw = Buffer.from(bytes);
  if (isPrintable(raw)) raw = Buffer.from(raw.toString('latin1').trim(), 'latin1');
  if (raw.length < ACCESS_KEY_MIN_BYTES) {
    throw new Error(`the access key must be at least ${ACCESS_KEY_MIN_BYTES} bytes (got ${raw.length}); e.g. 32 random bytes or 64 hex characters`);
  }
  const block = raw.length > BLOCK ? hash('sha256', raw, 'buffer') : raw;
  const innerPad = Buffer.alloc(BLOCK, 0x36);
  const outerPad = Buffer.alloc(BLOCK, 0x5c);
  for (let i = 0; i < block.length; i++) {
    innerPad[i]! ^= block[i]!;
    outerPad[i]! ^= block[i]!;
  }
  return { innerPad, outerPad };
}

// The key from its mounted file; the error says what is wrong without quoting a byte of it.
export function readAccessKeyFile(file: string): AccessKey {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new Error(`cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'}); it is the Secret ${ACCESS_KEY_SECRET} mounted into the Pod`);
  }
  return parseAccessKey(bytes);
}

function isPrintable(b: Buffer): boolean {
  for (const c of b) if (c < 0x09 || (c > 0x0d && c < 0x20) || c > 0x7e) return false;
  return true;
}

function mac(key: AccessKey, namespace: string, name: string, uid: Buffer): Buffer {
  // NUL cannot occur in a namespace or a name, so the fields cannot run into each other.
  const message = Buffer.from(`spawner-access-v${VERSION}\0${namespace}\0${name}\0`);
  const inner = hash('sha256', Buffer.concat([key.innerPad, message, uid]), 'buffer');
  return hash('sha256', Buffer.concat([key.outerPad, inner]), 'buffer').subarray(0, MAC_BYTES);
}

// The API server gives every object a UUID, carried as its 16 bytes. Anything else (a test double's
// made-up uid) is carried as 16 bytes of its SHA-256, so minting never fails; compare uids through
// uidKey, which maps both forms to what a verified token names.
function uidBytes(uid: string): Buffer {
  const lower = uid.toLowerCase();
  if (UUID_PATTERN.test(lower)) return Buffer.from(lower.replace(/-/g, ''), 'hex');
  return hash('sha256', uid, 'buffer').subarray(0, UID_BYTES);
}

// The uid as a verified token names it: a UUID in lower case (itself, for every uid the API server gives).
export function uidKey(uid: string): string {
  return uidString(uidBytes(uid));
}

function uidString(b: Buffer): string {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function mintAccessToken(key: AccessKey, backend: BackendIdentity): string {
  const uid = uidBytes(backend.uid);
  return Buffer.concat([Buffer.of(VERSION), uid, mac(key, backend.namespace, backend.name, uid)]).toString('base64url');
}

// Compared against whenever a token is absent or malformed, so that those cost what a wrong one does.
const FILLER = Buffer.alloc(TOKEN_BYTES);

export function verifyAccessToken(key: AccessKey, namespace: string, name: string, token: string | undefined): TokenCheck {
  const wellFormed = token !== undefined && TOKEN_PATTERN.test(token);
  const decoded = wellFormed ? Buffer.from(token, 'base64url') : FILLER;
  const bytes = decoded.length === TOKEN_BYTES ? decoded : FILLER;
  const uid = bytes.subarray(1, 1 + UID_BYTES);
  const expected = mac(key, namespace, name, uid);
  const macMatches = timingSafeEqual(expected, bytes.subarray(1 + UID_BYTES));
  const valid = wellFormed && bytes !== FILLER && bytes[0] === VERSION && macMatches;
  return valid ? { valid, uid: uidString(uid) } : { valid: false, uid: '' };
}

export function accessModeOf(slb: { spec?: { access?: string } }): AccessMode {
  return (slb.spec?.access ?? SPEC_DEFAULTS.access) === 'Public' ? 'Public' : 'Token';
}

// <public base>/p/<name>/, with ?token=… when given.
export function backendUrl(publicUrl: string, name: string, token?: string): string {
  const base = `${publicUrl.replace(/\/+$/, '')}/p/${name}/`;
  return token === undefined ? base : `${base}?${ACCESS_TOKEN_PARAM}=${token}`;
}

// A backend's URL as status.url and the HTTP API give it out: its token in it, unless it is public.
export function invitationUrl(
  slb: { metadata: { namespace?: string; name?: string; uid?: string }; spec?: { access?: string } },
  publicUrl: string,
  key: AccessKey,
): string {
  const { namespace = '', name = '', uid = '' } = slb.metadata;
  if (accessModeOf(slb) === 'Public') return backendUrl(publicUrl, name);
  return backendUrl(publicUrl, name, mintAccessToken(key, { namespace, name, uid }));
}
