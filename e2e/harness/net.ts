import https from 'node:https';
import http from 'node:http';
import net from 'node:net';

/**
 * Ports the kernel hands out for port 0. All listeners stay open until every port is known, so the
 * ports differ from each other; another process could still take one before the component binds
 * it, which the start-up wait then reports.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const server = net.createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve());
      });
      ports.push((server.address() as net.AddressInfo).port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

/**
 * For tests of connect checks: a port on 127.0.0.1 that accepts connections (and drops them at once),
 * and one where nothing listens (free a moment ago).
 */
export async function openAndClosedPorts(): Promise<{ openPort: number; closedPort: number; close: () => Promise<void> }> {
  const listener = net.createServer((s) => s.destroy());
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const openPort = (listener.address() as net.AddressInfo).port;
  const closedPort = (await freePorts(1))[0]!;
  return { openPort, closedPort, close: () => new Promise<void>((resolve) => listener.close(() => resolve())) };
}

export interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  /** For components serving a self-signed cert on loopback: only liveness is being checked. */
  insecure?: boolean;
}

export interface HttpResult {
  status: number;
  body: string;
}

export function request(
  method: string,
  url: string,
  options: { tls?: TlsMaterial; body?: string; contentType?: string; timeoutMs?: number } = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (options.body !== undefined) {
      headers['content-type'] = options.contentType ?? 'application/json';
      headers['content-length'] = String(Buffer.byteLength(options.body));
    }
    const common = { method, headers, timeout: options.timeoutMs ?? 10_000 };
    const req =
      u.protocol === 'https:'
        ? https.request(u, {
            ...common,
            ca: options.tls?.ca,
            cert: options.tls?.cert,
            key: options.tls?.key,
            rejectUnauthorized: !options.tls?.insecure,
            agent: false,
          })
        : http.request(u, { ...common, agent: false });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: no answer within ${common.timeout} ms`)));
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.end(options.body);
  });
}
