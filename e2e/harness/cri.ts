// Whether containerd's CRI service answers, asked the way the kubelet asks at start-up: the CRI's
// Version call over gRPC on containerd's socket. containerd serves its own API (what `ctr version`
// checks) before its CRI plugin has finished initialising, and until then every CRI call fails with
// "server is not initialized yet"; a kubelet started in that moment exits at once instead of retrying.
// gRPC here is plain HTTP/2 (node:http2): one unary call with an empty request message.
import http2 from 'node:http2';
import net from 'node:net';

export const CRI_VERSION_PATH = '/runtime.v1.RuntimeService/Version';

export type CriAnswer = { ok: true } | { ok: false; message: string };
type Headers = Record<string, string | string[] | number | undefined>;

// gRPC's status codes say why; 0 is OK. A "trailers-only" answer carries them in the headers.
export function criAnswer(headers: Headers, trailers: Headers): CriAnswer {
  const status = trailers['grpc-status'] ?? headers['grpc-status'];
  if (headers[':status'] !== 200) return { ok: false, message: `HTTP/2 status ${String(headers[':status'])}` };
  if (status === undefined) return { ok: false, message: 'no grpc-status in the answer' };
  if (String(status) === '0') return { ok: true };
  const message = trailers['grpc-message'] ?? headers['grpc-message'];
  return { ok: false, message: `gRPC status ${String(status)}${message ? `: ${decodeURIComponent(String(message))}` : ''}` };
}

export function criVersion(socketPath: string, timeoutMs = 2000): Promise<CriAnswer> {
  return new Promise((resolve) => {
    let settled = false;
    const session = http2.connect('http://localhost', { createConnection: () => net.connect(socketPath) });
    const finish = (answer: CriAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session.close();
      session.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => finish({ ok: false, message: `no answer within ${timeoutMs} ms` }), timeoutMs);
    session.on('error', (err) => finish({ ok: false, message: err.message }));
    const call = session.request({ ':method': 'POST', ':path': CRI_VERSION_PATH, 'content-type': 'application/grpc', te: 'trailers' });
    let headers: Headers = {};
    call.on('response', (h) => { headers = h; });
    call.on('trailers', (t) => finish(criAnswer(headers, t)));
    call.on('end', () => finish(criAnswer(headers, {})));
    call.on('error', (err) => finish({ ok: false, message: err.message }));
    call.resume();
    // A gRPC message: not compressed (one byte), its length (four bytes), then an empty VersionRequest.
    call.end(Buffer.from([0, 0, 0, 0, 0]));
  });
}
