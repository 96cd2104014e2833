// The baseline: the reverse proxy anyone would write in 30 lines of Node, with nothing of the
// sidecar's (no counting, no admin port, no header rewriting beyond what Node does). HTTP with
// keep-alive both ways; upgrades spliced after the app's 101. node:http is taken the lean way
// (common/node-http.ts explains), so this is the floor a Node proxy can reach, not a strawman.
//   node plain-proxy.js <listen port> <app port>
const http = process.getBuiltinModule('node:http');
const net = process.getBuiltinModule('node:net');

const [listenPort, appPort] = process.argv.slice(2).map(Number);
const agent = new http.Agent({ keepAlive: true });

const server = http.createServer((req, res) => {
  const upstream = http.request({ host: '127.0.0.1', port: appPort, method: req.method, path: req.url, headers: req.headers, agent }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  upstream.on('error', () => res.destroy());
  req.pipe(upstream);
});

server.on('upgrade', (req, client, head) => {
  const app = net.connect(appPort!, '127.0.0.1', () => {
    const lines = [`${req.method} ${req.url} HTTP/1.1`];
    for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
    app.write(`${lines.join('\r\n')}\r\n\r\n`);
    app.write(head);
    client.pipe(app).pipe(client);
  });
  app.on('error', () => client.destroy());
  client.on('error', () => app.destroy());
});

server.listen(listenPort, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
