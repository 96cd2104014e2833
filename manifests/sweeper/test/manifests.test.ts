// The sweeper's manifests agree with the sweeper and with what the operator injects: node name from the
// downward API, the sidecar admin port the operator gives every sidecar, probes on the health port the
// sweeper listens on, the image and pull policy of the offline cluster, non-root, and exactly the RBAC
// rules the sweeper's API calls need (the integration suite checks the same rules against a real API
// server).
import { describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { SIDECAR_ADMIN_PORT } from '../../../common/contract.ts';
import { sweeperSpecs } from '../../../sweeper/src/config.ts';

const dir = new URL('..', import.meta.url);
const docs = (file: string) => parseAllDocuments(readFileSync(new URL(file, dir), 'utf8')).map((d) => d.toJS() as Record<string, any>);

const [daemonSet] = docs('daemonset.yaml');
const rbac = docs('rbac.yaml');
const pod = daemonSet!.spec.template.spec;
const container = pod.containers[0];
const env = (name: string) => container.env.find((e: { name: string }) => e.name === name);

describe('DaemonSet', () => {
  test('one sweeper per node, told its node by the downward API', () => {
    expect(daemonSet!.kind).toBe('DaemonSet');
    expect(env(sweeperSpecs.nodeName.env)).toEqual({ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } });
  });

  test('the image of the offline cluster, never pulled when present', () => {
    expect(container.image).toBe('localhost/spawner/sweeper:0.1.0');
    expect(container.imagePullPolicy).toBe('IfNotPresent');
  });

  test('the sidecar admin port is the one every injected sidecar listens on', () => {
    expect(env(sweeperSpecs.sidecarAdminPort.env).value).toBe(String(SIDECAR_ADMIN_PORT));
  });

  test('probes on the port the sweeper serves /healthz and /readyz on', () => {
    const port = Number(env(sweeperSpecs.healthPort.env).value);
    expect(container.ports).toContainEqual({ name: 'health', containerPort: port, protocol: 'TCP' });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'health' });
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'health' });
  });

  test('every variable it sets is one the sweeper reads', () => {
    const known = new Set(Object.values(sweeperSpecs).map((s) => s.env));
    for (const { name } of container.env) expect(known.has(name)).toBe(true);
  });

  test('non-root, no privilege escalation, read-only root, no capabilities, its own account', () => {
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } });
    expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(pod.serviceAccountName).toBe('spawner-sweeper');
    expect(pod.hostNetwork).toBeUndefined();
    expect(pod.hostIPC).toBeUndefined();
    expect(pod.volumes).toBeUndefined(); // no host path: /proc under hostPID is all it reads
  });

  test("the node's PID namespace (node mode), and nothing else of the host", () => {
    expect(pod.hostPID).toBe(true);
    expect(container.securityContext.privileged).toBeUndefined();
  });
});

describe('RBAC', () => {
  test('exactly: SLBs get/list/watch/delete, their status patch, Events create', () => {
    const role = rbac.find((d) => d.kind === 'ClusterRole')!;
    expect(role.rules).toEqual([
      { apiGroups: ['spawner.dev'], resources: ['sessionlivedbackends'], verbs: ['get', 'list', 'watch', 'delete'] },
      { apiGroups: ['spawner.dev'], resources: ['sessionlivedbackends/status'], verbs: ['patch'] },
      { apiGroups: [''], resources: ['events'], verbs: ['create'] },
    ]);
  });

  test('bound to the sweeper account in spawner-system', () => {
    const binding = rbac.find((d) => d.kind === 'ClusterRoleBinding')!;
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'spawner-sweeper' });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'spawner-sweeper', namespace: 'spawner-system' }]);
    expect(rbac.find((d) => d.kind === 'ServiceAccount')!.metadata.name).toBe('spawner-sweeper');
  });
});

describe('modes', () => {
  const base = (file: string) => docs(`../${file}`);
  const component = parseAllDocuments(readFileSync(new URL('../components/sidecar-mode/kustomization.yaml', dir), 'utf8'))[0]!.toJS() as { patches: Array<{ target: Record<string, string>; patch: string }> };

  test("the shipped operator counts an unset spec.sidecar.enabled from the node, beside a sweeper with hostPID", () => {
    const [operator] = base('operator/deployment.yaml');
    const envOf = (name: string) => operator!.spec.template.spec.containers[0].env.find((e: { name: string }) => e.name === name);
    expect(envOf('SPAWNER_ACTIVITY_SOURCE')).toEqual({ name: 'SPAWNER_ACTIVITY_SOURCE', value: 'node' });
    expect(pod.hostPID).toBe(true);
  });

  test('spawner-system admits the sweeper: Pod Security privileged (baseline and restricted forbid hostPID)', () => {
    const [ns] = base('base/namespace.yaml');
    expect(ns!.metadata.labels['pod-security.kubernetes.io/enforce']).toBe('privileged');
  });

  test('components/sidecar-mode turns both around together, and spawner-system back to restricted', () => {
    const [operator] = base('operator/deployment.yaml');
    const env2 = operator!.spec.template.spec.containers[0].env[2];
    expect(env2.name).toBe('SPAWNER_ACTIVITY_SOURCE'); // the index its patch replaces
    const patches = component.patches.map((p) => [p.target.kind, p.patch.replace(/\s+/g, ' ').trim()]);
    expect(patches).toEqual([
      ['DaemonSet', '- op: remove path: /spec/template/spec/hostPID'],
      ['Deployment', '- op: replace path: /spec/template/spec/containers/0/env/2 value: { name: SPAWNER_ACTIVITY_SOURCE, value: sidecar }'],
      ['Namespace', '- op: replace path: /metadata/labels/pod-security.kubernetes.io~1enforce value: restricted'],
    ]);
  });
});
