/** Inputs for one kubeconfig; certificate material is embedded so the file stands alone. */
export interface KubeconfigInput {
  server: string;
  caData: string;
  user: string;
  certData?: string;
  keyData?: string;
  token?: string;
  impersonate?: string;
  impersonateGroups?: string[];
  namespace?: string;
  contextName?: string;
}

/** A kubeconfig as JSON, which every client (kubectl, client-go, client-node) reads like YAML. */
export function renderKubeconfig(input: KubeconfigInput): string {
  const contextName = input.contextName ?? 'spawner-test';
  const user: Record<string, unknown> = {};
  if (input.certData) user['client-certificate-data'] = input.certData;
  if (input.keyData) user['client-key-data'] = input.keyData;
  if (input.token) user.token = input.token;
  if (input.impersonate) user.as = input.impersonate;
  if (input.impersonateGroups?.length) user['as-groups'] = input.impersonateGroups;
  const context: Record<string, unknown> = { cluster: 'spawner-test', user: input.user };
  if (input.namespace) context.namespace = input.namespace;
  return (
    JSON.stringify(
      {
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'spawner-test', cluster: { server: input.server, 'certificate-authority-data': input.caData } }],
        users: [{ name: input.user, user }],
        contexts: [{ name: contextName, context }],
        'current-context': contextName,
        preferences: {},
      },
      null,
      2,
    ) + '\n'
  );
}
