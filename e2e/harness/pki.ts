import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';

/** A client identity: Kubernetes reads the user from CN and the groups from O. */
export interface Identity {
  file: string;
  user: string;
  groups: string[];
}

export interface CertPair {
  cert: string;
  key: string;
}

export interface Pki {
  dir: string;
  ca: CertPair;
  apiserver: CertPair;
  serviceAccountKey: string;
  serviceAccountPub: string;
  clients: Record<string, CertPair>;
}

const days = '7';

// P-256 keys: generated in milliseconds, accepted by every component for TLS and token signing.
const newKeyArgs = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** OpenSSL subject for a client certificate; '/' and ',' cannot appear in our fixed names. */
export function subjectFor(user: string, groups: string[]): string {
  return groups.map((g) => `/O=${g}`).join('') + `/CN=${user}`;
}

export function serverExtensions(dnsNames: string[], ips: string[]): string {
  const alt = [...dnsNames.map((d) => `DNS:${d}`), ...ips.map((ip) => `IP:${ip}`)].join(',');
  return [
    'basicConstraints = critical,CA:FALSE',
    'keyUsage = critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage = serverAuth',
    `subjectAltName = ${alt}`,
    '',
  ].join('\n');
}

const clientExtensions = [
  'basicConstraints = critical,CA:FALSE',
  'keyUsage = critical,digitalSignature,keyEncipherment',
  'extendedKeyUsage = clientAuth',
  '',
].join('\n');

const caConfig = [
  '[req]',
  'distinguished_name = dn',
  'x509_extensions = ca',
  'prompt = no',
  '[dn]',
  'CN = spawner-test-ca',
  '[ca]',
  'basicConstraints = critical,CA:TRUE',
  'keyUsage = critical,keyCertSign,cRLSign,digitalSignature',
  'subjectKeyIdentifier = hash',
  '',
].join('\n');

async function openssl(args: string[]): Promise<void> {
  await execa('openssl', args, { stdin: 'ignore' });
}

async function signed(dir: string, name: string, subject: string, extensions: string, ca: CertPair): Promise<CertPair> {
  const pair = { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
  const csr = path.join(dir, `${name}.csr`);
  const ext = path.join(dir, `${name}.ext`);
  await writeFile(ext, extensions);
  await openssl(['req', '-new', ...newKeyArgs, '-keyout', pair.key, '-out', csr, '-subj', subject]);
  await openssl([
    'x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial',
    '-CAserial', path.join(dir, `${name}.srl`), '-days', days, '-sha256', '-extfile', ext, '-out', pair.cert,
  ]);
  return pair;
}

export interface PkiOptions {
  /** First address of the service range: pods reach the API server's Service there. */
  serviceIP: string;
  /** Extra addresses the API server is reached on (a real node's host address, later). */
  extraIPs?: string[];
  clients: Identity[];
}

/** A throw-away PKI: one CA that signs the API server's serving cert and every client's cert. */
export async function makePki(dir: string, options: PkiOptions): Promise<Pki> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const ca = { cert: path.join(dir, 'ca.crt'), key: path.join(dir, 'ca.key') };
  const caCnf = path.join(dir, 'ca.cnf');
  await writeFile(caCnf, caConfig);
  await openssl(['req', '-x509', '-new', ...newKeyArgs, '-config', caCnf, '-keyout', ca.key, '-out', ca.cert, '-days', days, '-sha256']);

  const serviceAccountKey = path.join(dir, 'service-account.key');
  const serviceAccountPub = path.join(dir, 'service-account.pub');
  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', serviceAccountKey]);
  await openssl(['pkey', '-in', serviceAccountKey, '-pubout', '-out', serviceAccountPub]);

  const dnsNames = ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'];
  const ips = ['127.0.0.1', options.serviceIP, ...(options.extraIPs ?? [])];
  const apiserver = await signed(dir, 'apiserver', '/CN=kube-apiserver', serverExtensions(dnsNames, ips), ca);

  const clients: Record<string, CertPair> = {};
  for (const id of options.clients) {
    clients[id.file] = await signed(dir, id.file, subjectFor(id.user, id.groups), clientExtensions, ca);
  }
  return { dir, ca, apiserver, serviceAccountKey, serviceAccountPub, clients };
}

export async function readBase64(file: string): Promise<string> {
  return (await readFile(file)).toString('base64');
}
