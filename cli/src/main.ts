// `spawner`: parse, dispatch, and turn every failure into one readable message and a documented exit
// code (errors.ts). Run through bin/spawner with the Node 24 of node_modules.
import { isParsed, parseArgs, commandHelp, topHelp } from './args.ts';
import { COMMANDS, GLOBAL_FLAGS } from './commands.ts';
import { bashCompletion, zshCompletion } from './completion.ts';
import { CliError, EXIT, renderError } from './errors.ts';
import { completionShell, createOptions, deleteOptions, getOptions, globalOptions, waitOptions } from './options.ts';
import { runCreate, runDelete, runGet, runPrintCrd, runVersion, runWait, type Io } from './run.ts';

const io: Io = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
  readStdin: async () => {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
};

async function run(argv: string[]): Promise<number> {
  const parsed = parseArgs(argv, COMMANDS, GLOBAL_FLAGS);
  if (!isParsed(parsed)) {
    io.out(parsed.helpFor ? commandHelp(parsed.helpFor, GLOBAL_FLAGS) : topHelp(COMMANDS, GLOBAL_FLAGS));
    return argv.length === 0 ? EXIT.usage : EXIT.ok;
  }
  if (parsed.help) {
    io.out(commandHelp(parsed.command, GLOBAL_FLAGS));
    return EXIT.ok;
  }
  const g = globalOptions(parsed);
  switch (parsed.command.name) {
    case 'create':
      await runCreate(g, createOptions(parsed), io);
      break;
    case 'get':
      await runGet(g, getOptions(parsed), io);
      break;
    case 'wait':
      await runWait(g, waitOptions(parsed), io);
      break;
    case 'delete':
      await runDelete(g, deleteOptions(parsed), io);
      break;
    case 'print-crd':
      await runPrintCrd(io);
      break;
    case 'version':
      await runVersion(io);
      break;
    case 'completion':
      io.out(completionShell(parsed) === 'bash' ? bashCompletion(COMMANDS, GLOBAL_FLAGS) : zshCompletion(COMMANDS, GLOBAL_FLAGS));
      break;
  }
  return EXIT.ok;
}

process.on('SIGINT', () => process.exit(130));
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(EXIT.ok); // `spawner get | head`
});

let code: number;
try {
  code = await run(process.argv.slice(2));
} catch (err) {
  const e = err instanceof CliError ? err : new CliError(EXIT.error, (err as Error)?.message ?? String(err));
  io.err(renderError(e));
  if (!(err instanceof CliError) && process.env.SPAWNER_DEBUG) io.err(`${(err as Error).stack}\n`);
  code = e.exitCode;
}
process.exit(code);
