// A small argv parser with kubectl's conventions (--flag value, --flag=value, -n value, -nvalue, flags
// before or after the command, `--` ends flags). Pure: it returns what was asked or throws a UsageError
// naming the flag and what is allowed.
import { UsageError } from './errors.ts';

export type FlagKind = 'string' | 'bool' | 'list';

export interface FlagSpec {
  long: string; // without dashes
  short?: string; // one letter
  kind: FlagKind;
  valueName?: string; // shown in help: --image IMAGE
  allowed?: readonly string[];
  help: string;
}

export interface CommandSpec {
  name: string;
  aliases?: readonly string[];
  summary: string;
  args: string; // e.g. 'NAME...' for help
  minArgs: number;
  maxArgs: number; // Infinity for any
  flags: readonly FlagSpec[];
  examples?: readonly string[];
}

export type FlagValue = string | boolean | string[];

export interface Parsed {
  command: CommandSpec;
  flags: Record<string, FlagValue>;
  args: string[];
  help: boolean;
}

export interface TopLevel {
  help: boolean; // `spawner`, `spawner --help`, `spawner help`
  helpFor?: CommandSpec; // `spawner help create`
}

// Levenshtein distance, for "did you mean".
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = row[j]!;
      row[j] = Math.min(up + 1, row[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return row[b.length]!;
}

export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

export function flagLabel(spec: FlagSpec): string {
  return `--${spec.long}`;
}

function findCommand(word: string, commands: readonly CommandSpec[]): CommandSpec {
  const found = commands.find((c) => c.name === word || c.aliases?.includes(word));
  if (found) return found;
  const names = commands.flatMap((c) => [c.name, ...(c.aliases ?? [])]);
  const guess = closest(word, names);
  throw new UsageError(
    `unknown command '${word}'${guess ? `; did you mean '${guess}'?` : ''} (commands: ${commands.map((c) => c.name).join(', ')})`,
  );
}

interface Token {
  flag?: FlagSpec;
  display: string; // as typed, for messages
  inlineValue?: string;
}

function lookupFlag(arg: string, flags: readonly FlagSpec[], commandName: string | undefined): Token {
  const where = commandName ? ` for 'spawner ${commandName}'` : '';
  if (arg.startsWith('--')) {
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const flag = flags.find((f) => f.long === name);
    if (!flag) {
      const guess = closest(name, flags.map((f) => f.long));
      throw new UsageError(
        `unknown flag --${name}${where}${guess ? `; did you mean --${guess}?` : ''}`,
        commandName,
      );
    }
    return { flag, display: `--${name}`, inlineValue: eq < 0 ? undefined : arg.slice(eq + 1) };
  }
  const letter = arg.slice(1, 2);
  const flag = flags.find((f) => f.short === letter);
  if (!flag) throw new UsageError(`unknown flag -${letter}${where}`, commandName);
  const rest = arg.slice(2);
  const inlineValue = rest === '' ? undefined : rest.startsWith('=') ? rest.slice(1) : rest;
  if (flag.kind === 'bool' && inlineValue !== undefined && !rest.startsWith('=')) {
    throw new UsageError(`-${letter} takes no value (got '${arg}'); write flags separately`, commandName);
  }
  return { flag, display: `-${letter}`, inlineValue };
}

function isFlagToken(arg: string): boolean {
  return arg.length > 1 && arg.startsWith('-') && !/^-\d/.test(arg);
}

export function parseArgs(
  argv: readonly string[],
  commands: readonly CommandSpec[],
  globalFlags: readonly FlagSpec[],
): Parsed | TopLevel {
  let command: CommandSpec | undefined;
  const flags: Record<string, FlagValue> = {};
  const args: string[] = [];
  let help = false;
  let onlyArgs = false;

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (onlyArgs || !isFlagToken(arg)) {
      if (!command && !onlyArgs) {
        if (arg === 'help') {
          const topic = argv[i + 1];
          return topic ? { help: true, helpFor: findCommand(topic, commands) } : { help: true };
        }
        command = findCommand(arg, commands);
      } else {
        args.push(arg);
      }
      continue;
    }
    if (arg === '--') {
      onlyArgs = true;
      continue;
    }
    if (arg === '-h' || arg === '--help') {
      help = true;
      continue;
    }
    const known = command ? [...command.flags, ...globalFlags] : globalFlags;
    const tok = lookupFlag(arg, known, command?.name);
    const spec = tok.flag!;
    let value: FlagValue;
    if (spec.kind === 'bool') {
      if (tok.inlineValue === undefined || tok.inlineValue === 'true') value = true;
      else if (tok.inlineValue === 'false') value = false;
      else throw new UsageError(`${tok.display} is a switch: give it alone or as ${tok.display}=true|false`, command?.name);
    } else {
      let raw = tok.inlineValue;
      if (raw === undefined) {
        const next = argv[i + 1];
        if (next === undefined || (isFlagToken(next) && next !== '-')) {
          throw new UsageError(`${tok.display} needs a value (${spec.valueName ?? 'VALUE'})`, command?.name);
        }
        raw = next;
        i++;
      }
      if (spec.allowed && !spec.allowed.includes(raw)) {
        throw new UsageError(`${tok.display} '${raw}' is not allowed: use one of ${spec.allowed.join(', ')}`, command?.name);
      }
      if (spec.kind === 'list') {
        const previous = flags[spec.long];
        value = [...(Array.isArray(previous) ? previous : []), raw];
      } else {
        if (flags[spec.long] !== undefined) throw new UsageError(`${tok.display} is given more than once`, command?.name);
        value = raw;
      }
    }
    flags[spec.long] = value;
  }

  if (!command) return { help: true };
  if (!help) {
    if (args.length < command.minArgs) {
      throw new UsageError(`'spawner ${command.name}' needs ${command.args}`, command.name);
    }
    if (args.length > command.maxArgs) {
      const extra = args.slice(command.maxArgs).map((a) => `'${a}'`).join(' ');
      throw new UsageError(
        `'spawner ${command.name}' takes ${command.maxArgs === 0 ? 'no arguments' : `at most ${command.maxArgs} (${command.args})`}; unexpected ${extra}`,
        command.name,
      );
    }
  }
  return { command, flags, args, help };
}

export function isParsed(p: Parsed | TopLevel): p is Parsed {
  return 'command' in p;
}

function flagLine(f: FlagSpec): string {
  const short = f.short ? `-${f.short}, ` : '    ';
  const value = f.kind === 'bool' ? '' : ` ${f.valueName ?? 'VALUE'}`;
  return `  ${short}--${f.long}${value}`;
}

function flagTable(flags: readonly FlagSpec[]): string {
  const lines = flags.map((f) => [flagLine(f), f.help + (f.kind === 'list' ? ' (repeatable)' : '')] as const);
  const width = Math.max(...lines.map(([l]) => l.length)) + 2;
  return lines.map(([l, h]) => l.padEnd(width) + h).join('\n');
}

export function commandHelp(command: CommandSpec, globalFlags: readonly FlagSpec[]): string {
  const parts = [
    `${command.summary}\n`,
    `usage: spawner ${command.name}${command.args ? ` ${command.args}` : ''} [flags]`,
  ];
  if (command.aliases?.length) parts.push(`aliases: ${command.aliases.join(', ')}`);
  if (command.flags.length) parts.push(`\nflags:\n${flagTable(command.flags)}`);
  parts.push(`\nglobal flags:\n${flagTable(globalFlags)}`);
  if (command.examples?.length) parts.push(`\nexamples:\n${command.examples.map((e) => `  ${e}`).join('\n')}`);
  return parts.join('\n') + '\n';
}

export function topHelp(commands: readonly CommandSpec[], globalFlags: readonly FlagSpec[]): string {
  const width = Math.max(...commands.map((c) => c.name.length)) + 4;
  return [
    'spawner: create and follow session-lived backends (SessionLivedBackend, spawner.dev/v1)\n',
    'usage: spawner COMMAND [flags]\n',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    `\nglobal flags:\n${flagTable(globalFlags)}`,
    "\nrun 'spawner COMMAND --help' for a command's flags; exit codes are listed in the README",
  ].join('\n') + '\n';
}
