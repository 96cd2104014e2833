// usage: node e2e/harness/cli.ts up [--nodes N] [--crd PATH]… [--no-crd] [--real-node] | down | env
//                                | stop|start|restart etcd|kube-apiserver|kube-controller-manager|kube-scheduler|kwok
//                                                   |containerd|coredns|kubelet|kube-proxy (with a real node)
//   up    start a cluster (building what is missing) and print `export KUBECONFIG=…` lines;
//         installs the project's CRD when it exists, or the --crd files, or none with --no-crd;
//         --real-node also joins a real node (root; see node.ts) and taints the kwok nodes
//   down  stop the recorded cluster and remove everything it left
//   env   print the `export …` lines for the running cluster (eval "$(node e2e/harness/cli.ts env)")
// Progress goes to stderr; stdout carries only the export lines.
import { current, down, restartComponent, startComponent, stopComponent, up } from './cluster.ts';
import type { ComponentName, UpOptions } from './cluster.ts';

const componentNames: ComponentName[] = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kwok',
  'containerd',
  'coredns',
  'kubelet',
  'kube-proxy',
];
import { defaultStateFile } from './paths.ts';

function exportLines(kubeconfig: string, kubectl: string): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return `export KUBECONFIG=${q(kubeconfig)}\nexport SPAWNER_TEST_KUBECTL=${q(kubectl)}\n`;
}

/** Flags of `up`; throws naming the flag that is wrong. */
function parseUpFlags(args: string[]): UpOptions {
  const options: UpOptions = {};
  for (let i = 0; i < args.length; i++) {
    const flag = args[i]!;
    const value = () => {
      const v = args[++i];
      if (v === undefined || v.startsWith('--')) throw new Error(`${flag} needs a value`);
      return v;
    };
    if (flag === '--nodes') {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1 || n > 1000) throw new Error(`--nodes must be an integer from 1 to 1000, got ${args[i]}`);
      options.nodes = n;
    } else if (flag === '--crd') {
      options.crdPaths = [...(options.crdPaths ?? []), value()];
    } else if (flag === '--no-crd') {
      options.crdPaths = [];
    } else if (flag === '--real-node') {
      options.realNode = true;
    } else {
      throw new Error(`unknown flag ${flag} (up takes --nodes N, --crd PATH, --no-crd, --real-node)`);
    }
  }
  return options;
}

async function main(argv: string[]): Promise<number> {
  const command = argv[0];
  switch (command) {
    case 'up': {
      let interrupted = false;
      const onSignal = () => {
        if (interrupted) return;
        interrupted = true;
        process.stderr.write('[cluster] interrupted; cleaning up\n');
        void down().finally(() => process.exit(130));
      };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      const info = await up(parseUpFlags(argv.slice(1)));
      process.stdout.write(exportLines(info.kubeconfig, info.kubectl));
      return 0;
    }
    case 'down':
      await down();
      return 0;
    case 'env': {
      const record = current();
      if (!record?.kubeconfig || !record.kubectl) {
        process.stderr.write(`no running cluster recorded in ${defaultStateFile()}: run \`node e2e/harness/cli.ts up\`\n`);
        return 1;
      }
      process.stdout.write(exportLines(record.kubeconfig, record.kubectl));
      return 0;
    }
    case 'stop':
    case 'start':
    case 'restart': {
      const name = argv[1] as ComponentName | undefined;
      if (!name || !componentNames.includes(name)) {
        throw new Error(`${command} needs a component: ${componentNames.join(', ')} (got ${name ?? 'nothing'})`);
      }
      const action = command === 'stop' ? stopComponent : command === 'start' ? startComponent : restartComponent;
      await action(name);
      process.stderr.write(`[cluster] ${command === 'stop' ? 'stopped' : command === 'start' ? 'started' : 'restarted'} ${name}\n`);
      return 0;
    }
    default:
      process.stderr.write(`usage: node e2e/harness/cli.ts up|down|env|stop|start|restart (got ${command === undefined ? 'nothing' : `'${command}'`})\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  // Exit explicitly: the cluster's processes are detached and must not keep this one waiting.
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`[cluster] ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
