// node:http without what an ES module import of it drags in. `import http from 'node:http'` (or any
// named import) in an ES module builds the builtin's ESM facade, which reads every export; three of
// node:http's are lazy getters (WebSocket, CloseEvent, MessageEvent) that load undici, and with it
// crypto, tls, http2, zlib and worker_threads (nodejs/node#59686). Measured here, a process that
// only loads node:http: 58 vs 44 MB peak RSS and 100 vs 36 ms of CPU; an idle HTTP server 59.7 vs
// 46 MB RSS; on the operator, which needs tls and crypto anyway, 3.5 MB. process.getBuiltinModule
// returns the CommonJS exports object without reading them. Types still come from `import type …
// 'node:http'`, or as `http.X` through the type-only namespace below. node:https, which loads tls
// and crypto (27 more modules), has its own file (node-https.ts), so a process that speaks plain
// HTTP (the sidecar) never loads it.
import type * as NodeHttp from 'node:http';

export const http: typeof NodeHttp = process.getBuiltinModule('node:http');

// `http.IncomingMessage`, `http.Server`… as types, where code names them through the module.
export declare namespace http {
  export type IncomingMessage = NodeHttp.IncomingMessage;
  export type ServerResponse = NodeHttp.ServerResponse;
  export type Server = NodeHttp.Server;
  export type Agent = NodeHttp.Agent;
  export type ClientRequest = NodeHttp.ClientRequest;
  export type RequestOptions = NodeHttp.RequestOptions;
  export type IncomingHttpHeaders = NodeHttp.IncomingHttpHeaders;
}
