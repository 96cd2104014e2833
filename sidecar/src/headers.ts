// Header rewriting between client and app, on Node's raw header arrays ([name, value, name, value, …])
// so the app sees the client's names, order and repeats. Pure functions, tested by tables.

// Headers that describe one hop and must not be forwarded (RFC 9110 §7.6.1), plus the old
// Proxy-Connection. Transfer-Encoding is re-created by Node on the next hop when a body is chunked.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

// Node's client sends these methods without a body framing header when none is given; for the
// others it would invent `Transfer-Encoding: chunked` for an empty body.
const BODYLESS_BY_DEFAULT = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT']);

export interface ClientInfo {
  remoteAddress: string | undefined;
  method: string;
  upgrade: boolean; // the request asks to switch protocols and will be spliced
}

function connectionTokens(raw: readonly string[]): Set<string> {
  const tokens = new Set<string>();
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() !== 'connection') continue;
    for (const token of raw[i + 1]!.split(',')) tokens.add(token.trim().toLowerCase());
  }
  return tokens;
}

// '::ffff:10.0.0.1' → '10.0.0.1': a dual-stack listener reports IPv4 clients in mapped form.
export function plainAddress(address: string | undefined): string | undefined {
  return address?.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

function appendList(existing: string | undefined, value: string): string {
  return existing === undefined || existing === '' ? value : `${existing}, ${value}`;
}

export function forwardRequestHeaders(raw: readonly string[], client: ClientInfo): string[] {
  const dropped = connectionTokens(raw);
  const out: string[] = [];
  let forwardedFor: string | undefined;
  let forwardedProto: string | undefined;
  let forwardedHost: string | undefined;
  let host: string | undefined;
  let upgrade: string | undefined;
  let chunked = false;
  let contentLength = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    const lower = name.toLowerCase();
    switch (lower) {
      case 'x-forwarded-for':
        forwardedFor = appendList(forwardedFor, value);
        continue;
      case 'x-forwarded-proto':
        forwardedProto = appendList(forwardedProto, value);
        continue;
      case 'x-forwarded-host':
        forwardedHost = appendList(forwardedHost, value);
        continue;
      case 'host':
        host = value;
        break;
      case 'content-length':
        contentLength = true;
        break;
      case 'transfer-encoding':
        chunked = true;
        continue;
      case 'upgrade':
        upgrade = value;
        continue;
    }
    if (HOP_BY_HOP.has(lower) || dropped.has(lower)) continue;
    out.push(name, value);
  }
  if (chunked) out.push('Transfer-Encoding', 'chunked');
  else if (!contentLength && !client.upgrade && !BODYLESS_BY_DEFAULT.has(client.method)) out.push('Content-Length', '0');
  const address = plainAddress(client.remoteAddress);
  if (address !== undefined) out.push('X-Forwarded-For', appendList(forwardedFor, address));
  else if (forwardedFor !== undefined) out.push('X-Forwarded-For', forwardedFor);
  out.push('X-Forwarded-Proto', appendList(forwardedProto, 'http'));
  if (host !== undefined) out.push('X-Forwarded-Host', appendList(forwardedHost, host));
  else if (forwardedHost !== undefined) out.push('X-Forwarded-Host', forwardedHost);
  if (client.upgrade && upgrade !== undefined) out.push('Connection', 'Upgrade', 'Upgrade', upgrade);
  return out;
}

// For a normal response: Node's server adds its own framing and keep-alive headers for the client.
export function forwardResponseHeaders(raw: readonly string[]): string[] {
  const dropped = connectionTokens(raw);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.has(lower) || dropped.has(lower)) continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}

// The head of a response written straight onto a raw socket (the upgrade path, where Node's server no
// longer frames anything). `extra` is appended as is.
export function formatResponseHead(statusCode: number, statusMessage: string, raw: readonly string[], extra: readonly string[] = []): string {
  let head = `HTTP/1.1 ${statusCode} ${statusMessage}\r\n`;
  for (let i = 0; i < raw.length; i += 2) head += `${raw[i]}: ${raw[i + 1]}\r\n`;
  for (let i = 0; i < extra.length; i += 2) head += `${extra[i]}: ${extra[i + 1]}\r\n`;
  return head + '\r\n';
}

// A refused upgrade is relayed on a socket that closes afterwards, so its body is delimited by the
// close: Transfer-Encoding goes (Node already de-chunked the body) and Connection: close is said.
export function refusedUpgradeHeaders(raw: readonly string[]): string[] {
  return [...forwardResponseHeaders(raw), 'Connection', 'close'];
}
