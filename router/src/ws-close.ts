// Tells a WebSocket client why it cannot have its session: complete the handshake, send one close
// frame with a code and a reason, and hang up. A browser cannot read the HTTP status of a refused
// handshake (it sees 1006 and nothing else); a close frame is something its page can show.
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

// 4000–4999 are for applications (RFC 6455 §7.4.2); 4404 reads as "not found" to anyone who looks.
export const CLOSE_SESSION_ENDED = 4404;
export const SESSION_ENDED_REASON = 'session ended or does not exist';

const HANDSHAKE_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const LINGER_MS = 2000;

export function closeFrame(code: number, reason: string): Buffer {
  const text = Buffer.from(reason, 'utf8');
  if (text.length > 123) throw new Error('a close reason is at most 123 bytes');
  const frame = Buffer.alloc(4 + text.length);
  frame[0] = 0x88; // FIN + opcode 8 (close); a server's frames are not masked
  frame[1] = 2 + text.length;
  frame.writeUInt16BE(code, 2);
  text.copy(frame, 4);
  return frame;
}

export function acceptAndClose(req: IncomingMessage, socket: Duplex, code: number, reason: string): void {
  socket.on('error', () => socket.destroy());
  const key = req.headers['sec-websocket-key'];
  if (typeof key !== 'string' || req.headers.upgrade?.toLowerCase() !== 'websocket') {
    socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    return;
  }
  const accept = createHash('sha1').update(key + HANDSHAKE_GUID).digest('base64');
  // A browser that offered subprotocols fails a handshake that picks none, and would then see 1006.
  const offered = String(req.headers['sec-websocket-protocol'] ?? '').split(',')[0]?.trim();
  const lines = ['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${accept}`];
  if (offered) lines.push(`Sec-WebSocket-Protocol: ${offered}`);
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  // The client answers with its own close frame and then closes; whatever it sends is discarded.
  socket.resume();
  socket.end(closeFrame(code, reason));
  const linger = setTimeout(() => socket.destroy(), LINGER_MS);
  linger.unref();
  socket.once('close', () => clearTimeout(linger));
}
