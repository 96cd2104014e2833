// node:https the way common/node-http.ts takes node:http (its ES-module facade would load undici), in
// a file of its own: it loads tls and crypto, which only the processes that speak TLS need.
import type * as NodeHttps from 'node:https';

export const https: typeof NodeHttps = process.getBuiltinModule('node:https');

// `https.RequestOptions`, `https.Agent`… as types, where code names them through the module.
export declare namespace https {
  export type RequestOptions = NodeHttps.RequestOptions;
  export type Agent = NodeHttps.Agent;
  export type AgentOptions = NodeHttps.AgentOptions;
}
