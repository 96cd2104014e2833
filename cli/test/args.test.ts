import { describe, expect, test } from '@jest/globals';
import { closest, commandHelp, editDistance, isParsed, parseArgs, topHelp, type Parsed } from '../src/args.ts';
import { COMMANDS, GLOBAL_FLAGS } from '../src/commands.ts';
import { UsageError } from '../src/errors.ts';

const parse = (argv: string[]) => parseArgs(argv, COMMANDS, GLOBAL_FLAGS);
const parsed = (argv: string[]): Parsed => {
  const p = parse(argv);
  if (!isParsed(p)) throw new Error(`expected a command for ${argv.join(' ')}`);
  return p;
};

describe('parseArgs accepts kubectl-style spellings', () => {
  test.each<[string, string[], string, Record<string, unknown>, string[]]>([
    ['flag with a separate value', ['create', '--image', 'a:1'], 'create', { image: 'a:1' }, []],
    ['flag=value', ['create', '--image=a:1'], 'create', { image: 'a:1' }, []],
    ['short flag, separate value', ['get', '-n', 'ns'], 'get', { namespace: 'ns' }, []],
    ['short flag, glued value', ['get', '-nns'], 'get', { namespace: 'ns' }, []],
    ['short flag with =', ['get', '-o=json'], 'get', { output: 'json' }, []],
    ['global flag before the command', ['-n', 'ns', 'get', 'x'], 'get', { namespace: 'ns' }, ['x']],
    ['alias list', ['list', '-A'], 'get', { 'all-namespaces': true }, []],
    ['alias rm with names', ['rm', 'a', 'b'], 'delete', {}, ['a', 'b']],
    ['repeatable list flag', ['create', '--image', 'i', '--env', 'A=1', '--env', 'B=2'], 'create', { env: ['A=1', 'B=2'] }, []],
    ['bool=false', ['create', '--image', 'i', '--wait=false'], 'create', { wait: false }, []],
    ['-- ends flags', ['delete', '--', '-weird'], 'delete', {}, ['-weird']],
    ['stdin as a value', ['create', '-f', '-'], 'create', { filename: '-' }, []],
  ])('%s', (_what, argv, command, flags, args) => {
    const p = parsed(argv);
    expect(p.command.name).toBe(command);
    expect(p.flags).toMatchObject(flags);
    expect(p.args).toEqual(args);
  });
});

describe('parseArgs names the flag and what is allowed', () => {
  test.each<[string, string[], RegExp]>([
    ['unknown command, with a guess', ['craete'], /unknown command 'craete'; did you mean 'create'\?/],
    ['unknown flag, with a guess', ['get', '--outptu', 'json'], /unknown flag --outptu for 'spawner get'; did you mean --output\?/],
    ['unknown short flag', ['get', '-x'], /unknown flag -x for 'spawner get'/],
    ['a flag of another command', ['get', '--image', 'x'], /unknown flag --image for 'spawner get'/],
    ['missing value', ['create', '--image'], /--image needs a value \(IMAGE\)/],
    ['value that is a flag', ['create', '--image', '--wait'], /--image needs a value/],
    ['not an allowed value', ['get', '-o', 'table'], /-o 'table' is not allowed: use one of wide, json, yaml, name/],
    ['switch with a value', ['create', '--wait=yes'], /--wait is a switch/],
    ['string flag twice', ['create', '--image', 'a', '--image', 'b'], /--image is given more than once/],
    ['missing argument', ['wait'], /'spawner wait' needs NAME/],
    ['too many arguments', ['wait', 'a', 'b'], /takes at most 1 \(NAME\); unexpected 'b'/],
    ['arguments to a command that takes none', ['version', 'x'], /takes no arguments; unexpected 'x'/],
  ])('%s', (_what, argv, message) => {
    expect(() => parse(argv)).toThrow(UsageError);
    expect(() => parse(argv)).toThrow(message);
  });
});

describe('help', () => {
  test.each<[string[], boolean, string | undefined]>([
    [[], true, undefined],
    [['help'], true, undefined],
    [['--help'], true, undefined],
    [['help', 'create'], true, 'create'],
    [['help', 'ls'], true, 'get'],
  ])('%j', (argv, help, topic) => {
    const p = parse(argv);
    expect(isParsed(p)).toBe(false);
    expect(!isParsed(p) && p.help).toBe(help);
    expect(!isParsed(p) ? p.helpFor?.name : undefined).toBe(topic);
  });

  test('--help after a command skips the argument count check', () => {
    expect(parsed(['wait', '--help']).help).toBe(true);
  });

  test('every command and flag is in the help text', () => {
    const top = topHelp(COMMANDS, GLOBAL_FLAGS);
    for (const c of COMMANDS) {
      expect(top).toContain(c.name);
      const text = commandHelp(c, GLOBAL_FLAGS);
      for (const f of [...c.flags, ...GLOBAL_FLAGS]) expect(text).toContain(`--${f.long}`);
    }
  });
});

describe('did you mean', () => {
  test.each<[string, string, number]>([
    ['kitten', 'sitting', 3],
    ['', 'abc', 3],
    ['same', 'same', 0],
  ])('editDistance(%s, %s) = %d', (a, b, d) => expect(editDistance(a, b)).toBe(d));

  test.each<[string, string | undefined]>([
    ['delte', 'delete'],
    ['wiat', 'wait'],
    ['zzzzzz', undefined],
  ])('closest(%s)', (word, guess) => expect(closest(word, ['create', 'delete', 'wait', 'get'])).toBe(guess));
});
