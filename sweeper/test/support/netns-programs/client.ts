// The far end of a backend's connections for the node observer's tests: it runs in a test network
// namespace of its own (as the router's nginx does on a real node) and opens connections when told to,
// one JSON command per line on stdin, answered on stdout with the same id and the times that matter.
//   open {key, host, port}            a TCP connection kept open and silent
//   close {key}                       closes it (this side first)
//   bye {key}                         sends a line and waits for the app to close first
//   request {host, port, closer}      one HTTP request; closer "server": the app closes first
//                                     (Connection: close, this side waits for its FIN); "client":
//                                     keep-alive asked, this side closes as soon as the answer is in
//   serve {port}                      a TCP server the app can connect out to (answers and closes)
import net from 'node:net';
import { createInterface } from 'node:readline';

const out = (msg: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(msg)}\n`);
const open = new Map<string, net.Socket>();

function connect(host: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, host, () => resolve(s));
    s.once('error', reject);
  });
}

async function request(host: string, port: number, closer: 'client' | 'server'): Promise<{ startedAt: number; answeredAt: number; closedAt: number }> {
  const startedAt = Date.now();
  const s = await connect(host, port);
  const ask = closer === 'server' ? '/?close=server' : '/';
  s.write(`GET ${ask} HTTP/1.1\r\nhost: backend\r\nconnection: ${closer === 'server' ? 'close' : 'keep-alive'}\r\n\r\n`);
  let text = '';
  let answeredAt = 0;
  await new Promise<void>((resolve, reject) => {
    s.on('error', reject);
    s.on('data', (d: Buffer) => {
      text += d.toString();
      if (answeredAt === 0 && text.includes('\r\n\r\n') && text.endsWith('ok\n')) {
        answeredAt = Date.now();
        if (closer === 'client') {
          s.destroy();
          resolve();
        }
      }
    });
    s.on('end', () => {
      s.destroy();
      resolve();
    });
  });
  return { startedAt, answeredAt, closedAt: Date.now() };
}

createInterface({ input: process.stdin }).on('line', async (line) => {
  const cmd = JSON.parse(line) as { id: number; op: string; key?: string; host?: string; port?: number; closer?: 'client' | 'server' };
  try {
    let extra: Record<string, unknown> = {};
    switch (cmd.op) {
      case 'open':
        open.set(cmd.key!, await connect(cmd.host!, cmd.port!));
        break;
      case 'bye': { // says goodbye and waits for the app to close first (a WebSocket's closing handshake)
        const s = open.get(cmd.key!);
        open.delete(cmd.key!);
        if (s) {
          s.write('bye\n');
          await new Promise((r) => s.on('close', r).on('end', () => s.end()).resume());
        }
        break;
      }
      case 'close': {
        const s = open.get(cmd.key!);
        open.delete(cmd.key!);
        if (s) {
          s.end();
          await new Promise((r) => s.on('close', r).resume());
        }
        break;
      }
      case 'request':
        extra = await request(cmd.host!, cmd.port!, cmd.closer ?? 'server');
        break;
      case 'serve':
        await new Promise<void>((resolve) =>
          net.createServer((s) => s.end('hello\n')).listen(cmd.port, '0.0.0.0', () => resolve()),
        );
        break;
      default:
        throw new Error(`unknown op ${cmd.op}`);
    }
    out({ id: cmd.id, ok: true, at: Date.now(), ...extra });
  } catch (err) {
    out({ id: cmd.id, error: (err as Error).message });
  }
});
out({ ready: true });
