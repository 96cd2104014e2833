// Debian's nginx as a plain reverse proxy in front of the same app: HTTP/1.1 with keep-alive to the
// upstream, WebSocket upgrade headers, long read timeout. One worker, like the single-threaded sidecar.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

export const NGINX_BINARIES = ['/usr/sbin/nginx', '/usr/bin/nginx'];

export function nginxBinary(): string | undefined {
  return NGINX_BINARIES.find((p) => existsSync(p));
}

export function nginxConfig(o: { dir: string; listenPort: number; upstreamPort: number; workerConnections: number }): string {
  return `daemon off;
worker_processes 1;
worker_rlimit_nofile ${o.workerConnections * 2 + 100};
pid ${o.dir}/nginx.pid;
error_log ${o.dir}/error.log warn;
events { worker_connections ${o.workerConnections}; }
http {
  access_log off;
  client_body_temp_path ${o.dir}/client_body;
  proxy_temp_path ${o.dir}/proxy;
  fastcgi_temp_path ${o.dir}/fastcgi;
  uwsgi_temp_path ${o.dir}/uwsgi;
  scgi_temp_path ${o.dir}/scgi;
  map $http_upgrade $connection_upgrade { default upgrade; '' ''; }
  upstream app {
    server 127.0.0.1:${o.upstreamPort};
    keepalive 128;
  }
  server {
    listen 127.0.0.1:${o.listenPort};
    keepalive_requests 1000000;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_read_timeout 3600s;
      proxy_buffering on;
    }
  }
}
`;
}

export interface NginxOptions {
  dir: string;
  listenPort: number;
  upstreamPort: number;
  workerConnections: number;
}

/** Writes the configuration; returns the command line that starts nginx with it. */
export async function prepareNginx(o: NginxOptions): Promise<[string, string[]]> {
  const binary = nginxBinary();
  if (!binary) throw new Error('nginx not found: apt-get install -y nginx-light');
  await mkdir(o.dir, { recursive: true });
  const conf = path.join(o.dir, 'nginx.conf');
  await writeFile(conf, nginxConfig(o));
  return [binary, ['-p', o.dir, '-c', conf, '-e', path.join(o.dir, 'error.log')]];
}

export async function startNginx(o: NginxOptions): Promise<ChildProcess> {
  const [binary, args] = await prepareNginx(o);
  return spawn(binary, args, { stdio: ['ignore', 'ignore', 'inherit'] });
}
