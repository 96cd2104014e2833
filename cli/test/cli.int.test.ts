// The `spawner` binary against the harness's real API server, with the operator running as a local
// process (impersonating its service account), so backends really turn Ready on kwok nodes. Every
// error case a person can meet is run too, with its exit code (cli/README.md lists them).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import type { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { execa } from 'execa';
import { parse } from 'yaml';
import { apiClients, impersonating, kubectl, loadKubeConfig, waitFor, writeKubeconfig } from '../../e2e/harness/kube.ts';
import { freePorts } from '../../e2e/harness/net.ts';
import {
  createNamespace, deleteNamespaceWithBackends, installOperatorRbac, invitation, operatorKubeconfig, startOperator, tempDir, type OperatorProcess,
} from '../../operator/test/support/operator-process.ts';
import type { SessionLivedBackend } from '../../common/spawner/types.ts';
import { EXIT } from '../src/errors.ts';
import { repoRoot, spawner, spawnerBin, spawnerLive } from './support/spawner.ts';

let kc: KubeConfig;
let core: CoreV1Api;
let ns = '';
let dir = '';
let operator: OperatorProcess | undefined;
const URL_PREFIX = 'http://spawner.test/p/';

// Each test runs the binary a few times and waits on a real cluster shared with other suites.
jest.setTimeout(240_000);

beforeAll(async () => {
  kc = loadKubeConfig();
  ({ core } = apiClients(kc));
  dir = await tempDir('spawner-cli-');
  ns = await createNamespace(core, 'cli');
  await installOperatorRbac();
  operator = await startOperator({ kubeconfig: await operatorKubeconfig(kc, dir), dir, identity: 'cli-test', watchNamespace: ns, leaderElect: false });
  await operator.ready(120_000);
}, 300_000);

afterAll(async () => {
  if (core && ns) await deleteNamespaceWithBackends(core, ns);
  await operator?.stop();
}, 180_000);

const run = (args: string[], o: Parameters<typeof spawner>[1] = {}) => spawner([...args, '-n', ns], o);

const unschedulable = (extra: Record<string, unknown>) =>
  JSON.stringify({
    apiVersion: 'spawner.dev/v1',
    kind: 'SessionLivedBackend',
    metadata: { generateName: 'stuck-' },
    spec: { template: { nodeSelector: { 'spawner.test/no-such-node': 'true' }, containers: [{ image: 'example.invalid/app:1' }] }, ...extra },
  });

describe('version, print-crd, help', () => {
  test('version names the API it speaks', async () => {
    const r = await spawner(['version']);
    expect(r).toMatchObject({ exitCode: 0, stdout: expect.stringMatching(/^spawner \d+\.\d+\.\d+ \(spawner\.dev\/v1 SessionLivedBackend/) });
  });

  test('print-crd prints the generated CRD manifests byte for byte', async () => {
    const r = await spawner(['print-crd']);
    expect(r.exitCode).toBe(0);
    const files = ['sessionlivedbackends.spawner.dev.yaml', 'warmpools.spawner.dev.yaml'].map((f) => readFileSync(path.join(repoRoot, 'manifests/crd', f), 'utf8'));
    expect(r.stdout + '\n').toBe(files.join('---\n'));
  });

  test('no command prints the usage and exits 2', async () => {
    const r = await spawner([]);
    expect(r.exitCode).toBe(EXIT.usage);
    expect(r.stdout).toContain('usage: spawner COMMAND');
  });
});

describe('create, get, wait, delete', () => {
  test('create --pool NAME --wait claims a started member: the URL on stdout, the claim on the backend', async () => {
    await kubectl(['create', '-n', ns, '-f', '-'], { input: `apiVersion: spawner.dev/v1\nkind: WarmPool\nmetadata: {name: drop-four}\nspec: {replicas: 1, template: {containers: [{name: app, image: example.invalid/drop-four:1}]}}\n` });
    await waitFor(async () => (await kubectl(['get', 'wp', 'drop-four', '-n', ns, '-o', 'jsonpath={.status.readyReplicas}'])) === '1' || undefined, { what: 'the pool to fill', timeoutMs: 120_000 });
    const r = await run(['create', '--pool', 'drop-four', '--grace-period-seconds', '60', '--wait', '--timeout', '3m']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^${URL_PREFIX}drop-four-[a-z0-9]{5}/\\?token=[\\w-]{44}$`));
    const name = new URL(r.stdout).pathname.split('/')[2]!;
    const slb = JSON.parse((await run(['get', name, '-o', 'json'])).stdout) as SessionLivedBackend;
    expect(slb.spec).toEqual({ poolRef: { name: 'drop-four' }, gracePeriodSeconds: 60 });
    expect(slb.status?.conditions?.find((c) => c.type === 'PoolClaim')?.reason).toBe('ClaimedWarm');
    // Per-session settings are refused before anything is sent.
    const env = await run(['create', '--pool', 'drop-four', '--env', 'ROOM=7']);
    expect(env.exitCode).toBe(EXIT.usage);
    expect(env.stderr).toContain('--env cannot be combined with --pool: a pooled backend was started from the pool\'s template before this session existed, so per-session settings need a cold start');
  });

  test('create --wait shows progress on stderr and prints only the URL on stdout', async () => {
    const r = await run(['create', '--image', 'example.invalid/drop-four:1', '--env', 'MODE=demo', '--wait', '--timeout', '3m']);
    expect(r.exitCode).toBe(0);
    // The invitation: the URL with the backend's access token.
    expect(r.stdout).toMatch(new RegExp(`^${URL_PREFIX}drop-four-[a-z0-9]{5}/\\?token=[\\w-]{44}$`));
    const name = new URL(r.stdout).pathname.split('/')[2]!;
    expect(r.stderr).toContain(`sessionlivedbackend.spawner.dev/${name} created`);
    expect(r.stderr).toContain(`${name}: Ready`);
    const json = await run(['get', name, '-o', 'json']);
    const slb = JSON.parse(json.stdout) as SessionLivedBackend;
    expect(slb.spec.template?.containers[0]).toMatchObject({ name: 'app', image: 'example.invalid/drop-four:1', env: [{ name: 'MODE', value: 'demo' }] });
    expect(slb.metadata).not.toHaveProperty('managedFields');
  });

  test("the original Spawner's demo manifest, as it is, with -o name, then wait prints its URL", async () => {
    const r = await run(['create', '-f', path.join(repoRoot, 'manifests/demo/drop-four.yaml'), '-o', 'name']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^sessionlivedbackend\.spawner\.dev\/drop-four-[a-z0-9]{5}$/);
    const name = r.stdout.split('/')[1]!;
    const w = await run(['wait', name, '--timeout', '3m']);
    const uid = (JSON.parse((await run(['get', name, '-o', 'json'])).stdout) as SessionLivedBackend).metadata.uid!;
    expect(w).toMatchObject({ exitCode: 0, stdout: invitation(ns, name, uid) });
  });

  test('-f - reads stdin; -o yaml prints the created object', async () => {
    const r = await run(['create', '-f', '-', '-o', 'yaml'], { input: unschedulable({ gracePeriodSeconds: 42 }) });
    expect(r.exitCode).toBe(0);
    const slb = parse(r.stdout) as SessionLivedBackend;
    expect(slb.metadata.name).toMatch(/^stuck-/);
    expect(slb.metadata.namespace).toBe(ns);
    expect(slb.spec.gracePeriodSeconds).toBe(42);
  });

  test('--dry-run creates nothing', async () => {
    const before = (await run(['get', '-o', 'name'])).stdout;
    const r = await run(['create', '--image', 'a:1', '--name', 'dry', '--dry-run', '-o', 'json']);
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ metadata: { name: 'dry', namespace: ns } });
    expect((await run(['get', '-o', 'name'])).stdout).toBe(before);
  });

  test('get lists a table, -o wide adds NODE and REASON, -A adds NAMESPACE', async () => {
    await run(['create', '--image', 'a:1', '--name', 'listed', '--wait']);
    const table = await run(['get']);
    expect(table.exitCode).toBe(0);
    const lines = table.stdout.split('\n');
    expect(lines[0]).toMatch(/^NAME\s+PHASE\s+URL\s+AGE$/);
    expect(lines.find((l) => l.startsWith('listed '))).toMatch(new RegExp(`^listed\\s+Ready\\s+${URL_PREFIX}listed/\\?token=[\\w-]{44}\\s+\\S+$`));
    const wide = await run(['get', 'listed', '-o', 'wide']);
    expect(wide.stdout.split('\n')[0]).toMatch(/^NAME\s+PHASE\s+URL\s+AGE\s+NODE\s+REASON$/);
    expect(wide.stdout.split('\n')[1]).toMatch(/kwok-node-\d+\s+-$/);
    const all = await spawner(['list', '-A']);
    expect(all.stdout.split('\n')[0]).toMatch(/^NAMESPACE\s+NAME/);
    expect(all.stdout).toMatch(new RegExp(`^${ns}\\s+listed\\s+Ready`, 'm'));
  });

  test('get --watch prints the list, then every change, until interrupted', async () => {
    const watch = spawnerLive(['get', '--watch', '-n', ns]);
    try {
      await waitFor(() => (watch.output().startsWith('NAME') ? true : undefined), { what: 'the watch to print its list', timeoutMs: 60_000 });
      await run(['create', '--image', 'a:1', '--name', 'watched', '--wait']);
      await waitFor(() => (/^watched\s+Ready/m.test(watch.output()) ? true : undefined), { what: 'the watch to show watched Ready', timeoutMs: 60_000 });
      await run(['delete', 'watched']);
      await waitFor(() => (/^watched\s+Deleted/m.test(watch.output()) ? true : undefined), { what: 'the watch to show the deletion', timeoutMs: 60_000 });
      expect(watch.output()).toMatch(/^watched\s+Pending/m);
      expect(watch.output().match(/^NAME/gm)).toHaveLength(1);
    } finally {
      watch.child.kill('SIGINT');
      await watch.child;
    }
  });

  test('delete --wait returns once the backend is gone; then it is not found', async () => {
    await run(['create', '--image', 'a:1', '--name', 'doomed', '--wait']);
    const d = await run(['delete', 'slb/doomed', '--wait']);
    expect(d.exitCode).toBe(0);
    expect(d.stdout).toBe('sessionlivedbackend.spawner.dev "doomed" deleted');
    expect(d.stderr).toContain('doomed: deleted');
    const g = await run(['get', 'doomed']);
    expect(g.exitCode).toBe(EXIT.notFound);
    expect(g.stderr).toContain(`error: sessionlivedbackend "doomed" not found in namespace "${ns}"`);
    expect((await run(['delete', 'doomed'])).exitCode).toBe(EXIT.notFound);
    expect((await run(['delete', 'doomed', '--ignore-not-found'])).exitCode).toBe(0);
    expect((await run(['wait', 'doomed', '--for', 'deleted'])).exitCode).toBe(0);
  });

  test('delete of several: the ones that exist are deleted, the missing ones named, exit 6', async () => {
    await run(['create', '--image', 'a:1', '--name', 'partial']);
    const d = await run(['delete', 'missing-one', 'partial']);
    expect(d.exitCode).toBe(EXIT.notFound);
    expect(d.stdout).toBe('sessionlivedbackend.spawner.dev "partial" deleted');
    expect(d.stderr).toContain(`error: sessionlivedbackend "missing-one" not found in namespace "${ns}"`);
  });

  test('bash completion offers the backends of the namespace given with -n', async () => {
    const script = `source <(spawner completion bash); COMP_WORDS=(spawner delete -n ${ns} lis); COMP_CWORD=4; _spawner; printf '%s\\n' "\${COMPREPLY[@]}"`;
    const r = await execa('bash', ['-c', script], {
      env: { PATH: `${path.dirname(spawnerBin)}:${process.env.PATH}`, KUBECONFIG: process.env.KUBECONFIG!, HOME: repoRoot },
      reject: false,
    });
    expect(r.stdout.split('\n')).toEqual(['listed']);
  });
});

describe('errors a person understands, with their exit codes', () => {
  test('the backend turns Failed while waiting: its reason, exit 7', async () => {
    const r = await run(['create', '-f', '-', '--wait'], { input: unschedulable({ startupTimeoutSeconds: 1 }) });
    expect(r.exitCode).toBe(EXIT.failed);
    expect(r.stderr).toMatch(/error: backend "stuck-[a-z0-9]{5}" failed: StartupTimeout: not Ready within startupTimeoutSeconds \(1 s\)/);
    expect(r.stderr).toMatch(/^stuck-[a-z0-9]{5}: Pending/m); // progress came first
  });

  test('--timeout passes: where it got to, exit 8', async () => {
    const r = await run(['create', '-f', '-', '--wait', '--timeout', '2s'], { input: unschedulable({}) });
    expect(r.exitCode).toBe(EXIT.timeout);
    expect(r.stderr).toMatch(/error: timed out after 2s waiting for backend "stuck-[a-z0-9]{5}" to be Ready; it is Pending/);
  });

  test('a name that exists: exit 9', async () => {
    const r = await run(['create', '--image', 'a:1', '--name', 'listed']);
    expect(r.exitCode).toBe(EXIT.rejected);
    expect(r.stderr).toContain(`sessionlivedbackend "listed" already exists in namespace "${ns}"`);
  });

  test('a manifest the API server rejects: the field, exit 9', async () => {
    const r = await run(['create', '-f', '-'], { input: unschedulable({ httpPort: 0 }) });
    expect(r.exitCode).toBe(EXIT.rejected);
    expect(r.stderr).toMatch(/the API server rejected the backend: .*spec\.httpPort/);
  });

  test('a namespace that does not exist: exit 6', async () => {
    const r = await spawner(['create', '--image', 'a:1', '-n', 'no-such-namespace-here']);
    expect(r.exitCode).toBe(EXIT.notFound);
    expect(r.stderr).toContain('namespace "no-such-namespace-here" does not exist');
  });

  test.each<[string, string[], RegExp]>([
    ['unknown flag', ['create', '--imag', 'x'], /error: unknown flag --imag for 'spawner create'; did you mean --image\?/],
    ['bad port', ['create', '--image', 'x', '--port', '99999'], /error: --port '99999' is invalid: must be a whole number from 1 to 65535/],
    ['bad output', ['get', '-o', 'table'], /error: -o 'table' is not allowed: use one of wide, json, yaml, name/],
    ['bad --for', ['wait', 'x', '--for', 'gone'], /error: --for 'gone' is not allowed: use one of ready, deleted/],
    ['bad duration', ['wait', 'x', '--timeout', 'soon'], /error: --timeout: 'soon' is not a duration/],
    ['unreadable file', ['create', '-f', '/no/such/file.yaml'], /error: -f \/no\/such\/file.yaml: cannot read it: ENOENT/],
    ['unknown context', ['get', '--context', 'nope'], /error: --context 'nope' is not in the kubeconfig/],
  ])('invalid flags, exit 2: %s', async (_what, args, message) => {
    const r = await spawner(args);
    expect(r.exitCode).toBe(EXIT.usage);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
  });

  test('no kubeconfig: exit 3 and where it looked', async () => {
    const r = await spawner(['get'], { kubeconfig: '' });
    expect(r.exitCode).toBe(EXIT.cluster);
    expect(r.stderr).toContain(`error: no kubeconfig: ${repoRoot}/.kube/config (the default location) does not exist`);
    const missing = await spawner(['get', '--kubeconfig', '/no/such/kubeconfig']);
    expect(missing.exitCode).toBe(EXIT.cluster);
    expect(missing.stderr).toContain('/no/such/kubeconfig (--kubeconfig) does not exist');
  });

  test('an API server nobody listens on: exit 3, naming the address', async () => {
    const [port] = (await freePorts(1)) as [number];
    const admin = loadKubeConfig();
    const cluster = admin.getCurrentCluster()!;
    const server = `https://127.0.0.1:${port}`;
    const dead = loadKubeConfig();
    dead.clusters = [{ ...cluster, server }];
    const file = await writeKubeconfig(dead, path.join(dir, 'dead.kubeconfig'));
    const r = await spawner(['get'], { kubeconfig: file });
    expect(r.exitCode).toBe(EXIT.cluster);
    expect(r.stderr).toContain(`error: cannot reach the Kubernetes API server at ${server}`);
    expect(r.stderr).toContain('ECONNREFUSED');
  });

  test('RBAC forbids: exit 5, naming the user, the verb and the resource', async () => {
    const file = await writeKubeconfig(impersonating(kc, ns, 'nobody'), path.join(dir, 'nobody.kubeconfig'));
    const list = await spawner(['get', '-n', ns], { kubeconfig: file });
    expect(list.exitCode).toBe(EXIT.denied);
    expect(list.stderr).toContain(`error: forbidden: "system:serviceaccount:${ns}:nobody" may not list sessionlivedbackends.spawner.dev in namespace "${ns}"`);
    expect(list.stderr).toContain('granting "list" on sessionlivedbackends in API group spawner.dev');
    const create = await spawner(['create', '--image', 'a:1', '-n', ns], { kubeconfig: file });
    expect(create.exitCode).toBe(EXIT.denied);
    expect(create.stderr).toContain('may not create sessionlivedbackends.spawner.dev');
    const all = await spawner(['get', '-A'], { kubeconfig: file });
    expect(all.stderr).toContain('may not list sessionlivedbackends.spawner.dev in all namespaces');
  });
});
