// Whether host:port accepts a TCP connection: connect, then close at once without sending a byte. The
// sidecar asks it of its app (is it listening yet?) and the route service of a starting backend's Pod.
// Refused, unreachable, not answered within timeoutMs or aborted: false.
import net from 'node:net';

export function acceptsConnection(host: string, port: number, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const onAbort = () => done(false);
    const done = (ok: boolean) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.removeAllListeners();
      socket.on('error', () => {}); // a late error after destroy must not be unhandled
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    if (signal?.aborted) done(false);
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
}
