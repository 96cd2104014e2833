import { describe, expect, test } from '@jest/globals';
import { isParsed, parseArgs } from '../src/args.ts';
import { COMMANDS, GLOBAL_FLAGS } from '../src/commands.ts';
import { EXIT, UsageError } from '../src/errors.ts';
import { backendName, createOptions, deleteOptions, getOptions, globalOptions, waitOptions, DEFAULT_WAIT_TIMEOUT_MS } from '../src/options.ts';

const p = (line: string) => {
  const r = parseArgs(line.split(' ').filter(Boolean), COMMANDS, GLOBAL_FLAGS);
  if (!isParsed(r)) throw new Error('no command');
  return r;
};

describe('createOptions from flags', () => {
  test('defaults', () => {
    expect(createOptions(p('create --image app:1'))).toEqual({
      source: { kind: 'flags', flags: { image: 'app:1', port: 8080, gracePeriodSeconds: 300, env: [], sidecar: true } },
      wait: false,
      timeoutMs: DEFAULT_WAIT_TIMEOUT_MS,
      output: undefined,
      dryRun: false,
    });
  });

  test('every flag', () => {
    const o = createOptions(p('create --image app:1 --port 3000 --grace-period-seconds 0 --max-lifetime-seconds 3600 --startup-timeout-seconds 60 --env A=1 --env B=x=y --name game-1 --no-sidecar --wait --timeout 2m -o name'));
    expect(o).toEqual({
      source: {
        kind: 'flags',
        flags: { image: 'app:1', port: 3000, gracePeriodSeconds: 0, maxLifetimeSeconds: 3600, startupTimeoutSeconds: 60, env: [['A', '1'], ['B', 'x=y']], name: 'game-1', sidecar: false },
      },
      wait: true,
      timeoutMs: 120_000,
      output: 'name',
      dryRun: false,
    });
  });

  test('--pool claims from a WarmPool with the session\'s own limits and name', () => {
    expect(createOptions(p('create --pool games --grace-period-seconds 60 --max-lifetime-seconds 600 --prefix room --wait')).source).toEqual({
      kind: 'pool', claim: { pool: 'games', gracePeriodSeconds: 60, maxLifetimeSeconds: 600, prefix: 'room' },
    });
    expect(createOptions(p('create --pool games')).source).toEqual({ kind: 'pool', claim: { pool: 'games', gracePeriodSeconds: 300 } });
  });

  test('-f takes the file', () => {
    expect(createOptions(p('create -f x.yaml --dry-run')).source).toEqual({ kind: 'file', path: 'x.yaml' });
  });

  test.each<[string, RegExp]>([
    ['create', /--image is required \(or --pool NAME, or -f FILE\)/],
    ['create --pool games --env ROOM=7', /--env cannot be combined with --pool: a pooled backend was started from the pool's template before this session existed, so per-session settings need a cold start; drop --pool/],
    ['create --pool games --image app:1', /--image cannot be combined with --pool/],
    ['create --pool games --port 3000', /--port cannot be combined with --pool/],
    ['create --pool games --startup-timeout-seconds 5', /--startup-timeout-seconds cannot be combined with --pool/],
    ['create --pool games --no-sidecar', /--no-sidecar cannot be combined with --pool/],
    ['create --pool Games', /--pool 'Games' is invalid: a WarmPool's name/],
    ['create --pool games --grace-period-seconds -5', /--grace-period-seconds/],
    ['create -f x.yaml --pool games', /-f takes the whole backend from the file; it cannot be combined with --pool/],
    ['create --image app --port 0', /--port '0' is invalid: must be a whole number from 1 to 65535/],
    ['create --image app --port 8080.5', /--port '8080.5' is invalid/],
    ['create --image app --port 9090', /--port 9090 is taken by the sidecar/],
    ['create --image app --port 9091', /--port 9091 is taken by the sidecar/],
    ['create --image app --grace-period-seconds -1', /--grace-period-seconds needs a value|--grace-period-seconds '-1' is invalid/],
    ['create --image app --grace-period-seconds 31536001', /--grace-period-seconds '31536001' is invalid: must be a whole number from 0 to 31536000/],
    ['create --image app --max-lifetime-seconds 0', /--max-lifetime-seconds '0' is invalid: must be a whole number from 1/],
    ['create --image app --env NOVALUE', /--env 'NOVALUE' is invalid: write NAME=VALUE/],
    ['create --image app --env 1X=a', /'1X' is not a valid variable name/],
    ['create --image app --env PORT=1', /--env PORT is set by Spawner from --port/],
    ['create --image app --env A=1 --env A=2', /--env A is given more than once/],
    ['create --image app --name Game', /--name 'Game' is invalid: lowercase letters/],
    ['create --image app --name a --prefix b', /--name and --prefix cannot be combined/],
    ['create --image app --prefix 9x', /--prefix '9x' is invalid/],
    ['create --image app --timeout 1m', /--timeout applies only with --wait/],
    ['create --image app --wait --timeout soon', /--timeout: 'soon' is not a duration/],
    ['create --image app --wait --timeout 0s', /--timeout '0s' is invalid: must be longer than 0s/],
    ['create --image app --wait --dry-run', /--dry-run and --wait cannot be combined/],
    ['create -f x.yaml --image app --port 3000', /-f takes the whole backend from the file; it cannot be combined with --image, --port/],
  ])('%s', (line, message) => {
    let error: unknown;
    try {
      createOptions(p(line));
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).exitCode).toBe(EXIT.usage);
    expect((error as Error).message).toMatch(message);
  });
});

describe('get, wait, delete', () => {
  test.each<[string, object]>([
    ['get', { name: undefined, allNamespaces: false, output: 'table', watch: false }],
    ['get -A -o wide --watch', { name: undefined, allNamespaces: true, output: 'wide', watch: true }],
    ['get slb/game-1 -o json', { name: 'game-1', output: 'json' }],
    ['get sessionlivedbackend.spawner.dev/game-1', { name: 'game-1' }],
  ])('%s', (line, expected) => expect(getOptions(p(line))).toMatchObject(expected));

  test.each<[string, RegExp]>([
    ['get -A game', /-A lists every backend; it cannot be combined with NAME/],
    ['get -A -n x', /-A and -n cannot be combined/],
    ['get pod/x', /'pod\/x' is not a backend/],
    ['get Bad_Name', /'Bad_Name' is not a valid backend name/],
  ])('%s', (line, message) => expect(() => getOptions(p(line))).toThrow(message));

  test('wait defaults to ready and takes --for deleted', () => {
    expect(waitOptions(p('wait g'))).toEqual({ name: 'g', for: 'ready', timeoutMs: DEFAULT_WAIT_TIMEOUT_MS });
    expect(waitOptions(p('wait g --for deleted --timeout 90'))).toEqual({ name: 'g', for: 'deleted', timeoutMs: 90_000 });
  });

  test('delete removes duplicates and checks --timeout', () => {
    expect(deleteOptions(p('delete a b a --wait --ignore-not-found'))).toMatchObject({ names: ['a', 'b'], wait: true, ignoreNotFound: true });
    expect(() => deleteOptions(p('delete a --timeout 1m'))).toThrow(/--timeout applies only with --wait/);
  });

  test('global options', () => {
    expect(globalOptions(p('get -n team-a --request-timeout 5s'))).toMatchObject({ namespace: 'team-a', requestTimeoutMs: 5000 });
    expect(() => globalOptions(p('get -n Team'))).toThrow(/--namespace 'Team' is not a valid namespace name/);
  });

  test.each<[string, string]>([
    ['game', 'game'],
    ['slb/game', 'game'],
    ['slbs/game', 'game'],
    ['sessionlivedbackends/game', 'game'],
  ])('backendName(%s)', (raw, name) => expect(backendName(raw)).toBe(name));
});
