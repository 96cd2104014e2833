// A backend app for the node observer's tests, run inside a test network namespace as an
// unprivileged user (netns-lab.ts). HTTP on --port (all addresses, dual-stack unless --host says
// otherwise), answering after --delay-ms; `?close=server` answers with `Connection: close`, so the app
// closes first. Commands on stdin (one JSON object per line) make it listen later, connect out, or
// connect to itself over loopback; each is answered on stdout with the same id.
import http from 'node:http';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8080' },
    host: { type: 'string', default: '::' },
    'delay-ms': { type: 'string', default: '50' },
    'listen-later': { type: 'boolean', default: false },
  },
});
const port = Number(values.port);
const delayMs = Number(values['delay-ms']);
const out = (msg: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(msg)}\n`);

const server = http.createServer((req, res) => {
  setTimeout(() => {
    if ((req.url ?? '').includes('close=server')) res.setHeader('connection', 'close');
    res.end('ok\n');
  }, delayMs);
});
server.keepAliveTimeout = 60_000; // a client that keeps the connection decides when it ends
const outbound = new Map<string, net.Socket>();

function listen(): Promise<void> {
  return new Promise((resolve) => server.listen(port, values.host, () => resolve()));
}

function connect(host: string, p: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(p, host, () => resolve(s));
    s.once('error', reject);
  });
}

createInterface({ input: process.stdin }).on('line', async (line) => {
  const cmd = JSON.parse(line) as { id: number; op: string; host?: string; port?: number; key?: string };
  try {
    switch (cmd.op) {
      case 'listen':
        await listen();
        break;
      case 'open-outbound': // a connection of the app's own, kept open (a database, say)
        outbound.set(cmd.key!, await connect(cmd.host!, cmd.port!));
        break;
      case 'close-outbound':
        outbound.get(cmd.key!)?.destroy();
        outbound.delete(cmd.key!);
        break;
      case 'request-outbound': { // a short request of the app's own
        const s = await connect(cmd.host!, cmd.port!);
        s.end('GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
        await new Promise((r) => s.on('close', r).resume());
        break;
      }
      case 'loopback': { // the app talking to itself (or a sidecar of its own) over loopback
        const s = await connect('127.0.0.1', port);
        s.end('GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
        await new Promise((r) => s.on('close', r).resume());
        break;
      }
      default:
        throw new Error(`unknown op ${cmd.op}`);
    }
    out({ id: cmd.id, ok: true, at: Date.now() });
  } catch (err) {
    out({ id: cmd.id, error: (err as Error).message });
  }
});

if (!values['listen-later']) await listen();
out({ ready: true });
