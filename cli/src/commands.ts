// The commands and their flags: what `--help`, the parser and the shell completion all read.
import { SPEC_DEFAULTS } from '../../common/spawner/spec.ts';
import type { CommandSpec, FlagSpec } from './args.ts';

export const GLOBAL_FLAGS: readonly FlagSpec[] = [
  { long: 'namespace', short: 'n', kind: 'string', valueName: 'NS', help: "namespace (default: the context's, else default)" },
  { long: 'kubeconfig', kind: 'string', valueName: 'PATH', help: 'kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)' },
  { long: 'context', kind: 'string', valueName: 'NAME', help: 'kubeconfig context to use (default: current-context)' },
  { long: 'request-timeout', kind: 'string', valueName: 'DURATION', help: 'give up on one API request after this long [default: 30s]' },
];

const timeoutFlag = (what: string): FlagSpec => ({
  long: 'timeout',
  kind: 'string',
  valueName: 'DURATION',
  help: `how long to wait ${what}, e.g. 90s, 2m, 1h [default: 6m]`,
});

export const OUTPUTS_CREATE = ['json', 'yaml', 'name'] as const;
export const OUTPUTS_GET = ['wide', 'json', 'yaml', 'name'] as const;

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'create',
    summary: 'Create a backend from flags or from a manifest (-f)',
    args: '',
    minArgs: 0,
    maxArgs: 0,
    flags: [
      { long: 'image', kind: 'string', valueName: 'IMAGE', help: 'container image of the app (required without --pool or -f)' },
      { long: 'pool', kind: 'string', valueName: 'POOL', help: "claim a started member of this WarmPool: Ready at once (cold from the pool's template when it has none)" },
      { long: 'port', kind: 'string', valueName: 'PORT', help: `port the app listens on; it also gets it as $PORT [default: ${SPEC_DEFAULTS.httpPort}]` },
      { long: 'grace-period-seconds', kind: 'string', valueName: 'N', help: `seconds without a connection before the backend is swept [default: ${SPEC_DEFAULTS.gracePeriodSeconds}]` },
      { long: 'max-lifetime-seconds', kind: 'string', valueName: 'N', help: 'hard upper bound on the backend age, active or not' },
      { long: 'startup-timeout-seconds', kind: 'string', valueName: 'N', help: `Failed when not Ready this long after creation [default: ${SPEC_DEFAULTS.startupTimeoutSeconds}]` },
      { long: 'env', kind: 'list', valueName: 'NAME=VALUE', help: 'environment variable of the app' },
      { long: 'name', kind: 'string', valueName: 'NAME', help: 'backend name (default: generated from --prefix)' },
      { long: 'prefix', kind: 'string', valueName: 'PREFIX', help: 'prefix of the generated name (default: from the image name, or the pool)' },
      { long: 'no-sidecar', kind: 'bool', help: 'no injected sidecar: the app serves /status itself' },
      { long: 'filename', short: 'f', kind: 'string', valueName: 'FILE', help: "manifest with SessionLivedBackend objects ('-' for stdin)" },
      { long: 'wait', kind: 'bool', help: 'wait until Ready, show progress on stderr, print the URL' },
      timeoutFlag('with --wait'),
      { long: 'output', short: 'o', kind: 'string', valueName: 'FORMAT', allowed: OUTPUTS_CREATE, help: 'print the created object: json, yaml or name' },
      { long: 'dry-run', kind: 'bool', help: 'print the object that would be created (yaml unless -o) and stop' },
    ],
    examples: [
      'spawner create --image localhost/spawner/drop-four:0.1.0 --wait',
      'spawner create --image ghcr.io/me/app:1 --port 3000 --env MODE=demo --grace-period-seconds 60 -o name',
      'spawner create -f manifests/demo/drop-four.yaml --wait --timeout 2m',
      'spawner create --pool drop-four --wait',
    ],
  },
  {
    name: 'get',
    aliases: ['list', 'ls'],
    summary: 'List backends, or show one',
    args: '[NAME]',
    minArgs: 0,
    maxArgs: 1,
    flags: [
      { long: 'all-namespaces', short: 'A', kind: 'bool', help: 'list backends in every namespace' },
      { long: 'output', short: 'o', kind: 'string', valueName: 'FORMAT', allowed: OUTPUTS_GET, help: 'wide (adds REASON), json, yaml or name' },
      { long: 'watch', short: 'w', kind: 'bool', help: 'after the list, print every change' },
    ],
    examples: ['spawner get', 'spawner list -A -o wide', 'spawner get drop-four-x7k2p -o json', 'spawner get --watch'],
  },
  {
    name: 'wait',
    summary: 'Wait until a backend is Ready (prints its URL) or deleted',
    args: 'NAME',
    minArgs: 1,
    maxArgs: 1,
    flags: [
      { long: 'for', kind: 'string', valueName: 'CONDITION', allowed: ['ready', 'deleted'], help: 'ready or deleted [default: ready]' },
      timeoutFlag(''),
    ],
    examples: ['spawner wait drop-four-x7k2p', 'spawner wait drop-four-x7k2p --for deleted --timeout 1m'],
  },
  {
    name: 'delete',
    aliases: ['rm'],
    summary: 'Delete backends',
    args: 'NAME...',
    minArgs: 1,
    maxArgs: Infinity,
    flags: [
      { long: 'wait', kind: 'bool', help: 'wait until each is gone (its Pod removed)' },
      timeoutFlag('with --wait'),
      { long: 'ignore-not-found', kind: 'bool', help: 'a backend that does not exist is not an error' },
    ],
    examples: ['spawner delete drop-four-x7k2p', 'spawner delete a b c --wait'],
  },
  {
    name: 'print-crd',
    summary: 'Print the CRD manifests, SessionLivedBackend and WarmPool (pipe them to kubectl apply -f -)',
    args: '',
    minArgs: 0,
    maxArgs: 0,
    flags: [],
    examples: ['spawner print-crd | kubectl apply -f -'],
  },
  {
    name: 'version',
    summary: 'Print the CLI version and the API version it speaks',
    args: '',
    minArgs: 0,
    maxArgs: 0,
    flags: [],
  },
  {
    name: 'completion',
    summary: 'Print a shell completion script (bash or zsh)',
    args: 'bash|zsh',
    minArgs: 1,
    maxArgs: 1,
    flags: [],
    examples: ['source <(spawner completion bash)', 'spawner completion zsh > "${fpath[1]}/_spawner"'],
  },
];
