// node:http without what an ES module import of it drags in. `import http from 'node:http'` (or any
// named import) in an ES module builds the builtin's ESM facade, which reads every export; three of
// node:http's are lazy getters (WebSocket, CloseEvent, MessageEvent) that load undici, and with it
// crypto, tls, http2, zlib and worker_threads (nodejs/node#59686). Measured on the sidecar: +13 MB
// RSS and +25 ms at start, for a process that uses none of them. process.getBuiltinModule returns
// the CommonJS exports object without reading them. Types still come from `import type … 'node:http'`.
export const http = process.getBuiltinModule('node:http');
