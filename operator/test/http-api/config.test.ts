import { describe, expect, test } from '@jest/globals';
import { ConfigError, parseConfig } from '../../../common/config.ts';
import { operatorOptions } from '../../src/config.ts';
import { httpApiSettings } from '../../src/http-api/config.ts';

const token = 'a-token-of-32-characters-0123456';
const settings = (argv: string[], env: Record<string, string> = {}) => httpApiSettings(parseConfig(operatorOptions, argv, env));

describe('HTTP API configuration', () => {
  test.each<[string, string[], Record<string, string>, object | undefined]>([
    ['off by default', [], {}, undefined],
    ['off even with a token', [], { SPAWNER_API_TOKEN: token }, undefined],
    ['on in the one namespace the operator watches', ['--api', '--namespace=games', '--api-namespace=games'], { SPAWNER_API_TOKEN: token }, { namespace: 'games' }],
    ['on with its defaults', ['--api'], { SPAWNER_API_TOKEN: token }, { port: 8082, token, namespace: 'spawner-backends', defaultImage: 'localhost/spawner/drop-four:0.1.0' }],
    ['on from the environment', [], { SPAWNER_API_ENABLED: 'true', SPAWNER_API_TOKEN: token, SPAWNER_API_PORT: '0', SPAWNER_API_NAMESPACE: 'sessions', SPAWNER_API_DEFAULT_IMAGE: 'app:2' },
      { port: 0, token, namespace: 'sessions', defaultImage: 'app:2' }],
    ['with a default pool', ['--api', '--api-default-pool=drop-four'], { SPAWNER_API_TOKEN: token }, { defaultPool: 'drop-four' }],
    ['with the shipped bounds', ['--api'], { SPAWNER_API_TOKEN: token },
      { limits: { maxGracePeriodSeconds: 3600, defaultMaxLifetimeSeconds: 28_800, maxLifetimeSeconds: 86_400, initPerSecond: 10, initBurst: 20, maxStreams: 100 } }],
    ['with other bounds', ['--api', '--api-max-grace-period-seconds=60', '--api-default-max-lifetime-seconds=600', '--api-max-lifetime-seconds=600', '--api-init-per-second=0.5', '--api-init-burst=1', '--api-max-streams=3'], { SPAWNER_API_TOKEN: token },
      { limits: { maxGracePeriodSeconds: 60, defaultMaxLifetimeSeconds: 600, maxLifetimeSeconds: 600, initPerSecond: 0.5, initBurst: 1, maxStreams: 3 } }],
  ])('%s', (_what, argv, env, expected) => expect(settings(argv, env)).toEqual(expected === undefined ? undefined : expect.objectContaining(expected)));

  test.each<[string, string[], Record<string, string>, RegExp]>([
    ['no token', ['--api'], {}, /SPAWNER_API_TOKEN \(or --api-token\) is required when the HTTP API is enabled/],
    ['a blank token', ['--api'], { SPAWNER_API_TOKEN: '   ' }, /SPAWNER_API_TOKEN \(or --api-token\) is required/],
    ['a short token', ['--api'], { SPAWNER_API_TOKEN: 'abc' }, /SPAWNER_API_TOKEN is too short: use at least 16/],
    ['a bad namespace', ['--api', '--api-namespace=Team'], { SPAWNER_API_TOKEN: token }, /--api-namespace \(SPAWNER_API_NAMESPACE\) = 'Team' is invalid/],
    ['an image with spaces', ['--api', '--api-default-image=a b'], { SPAWNER_API_TOKEN: token }, /--api-default-image .* is invalid/],
    ['a namespace the operator does not watch', ['--api', '--namespace=games', '--api-namespace=default'], { SPAWNER_API_TOKEN: token },
      /--api-namespace \(SPAWNER_API_NAMESPACE\) = 'default' is outside the namespace this operator watches \(--namespace = 'games'\)/],
    ['a default pool that is no name', ['--api', '--api-default-pool=Drop_Four'], { SPAWNER_API_TOKEN: token }, /--api-default-pool \(SPAWNER_API_DEFAULT_POOL\) = 'Drop_Four' is invalid: a WarmPool's name/],
    ['a bad port', ['--api', '--api-port=70000'], { SPAWNER_API_TOKEN: token }, /--api-port = '70000' is invalid/],
    ['a bad switch', [], { SPAWNER_API_ENABLED: 'yes' }, /SPAWNER_API_ENABLED = 'yes' is invalid: must be 'true' or 'false'/],
    ['a maximum grace beyond the CRD\'s', ['--api', '--api-max-grace-period-seconds=40000000'], { SPAWNER_API_TOKEN: token }, /--api-max-grace-period-seconds \(SPAWNER_API_MAX_GRACE_PERIOD_SECONDS\) = 40000000 is invalid: spec.gracePeriodSeconds takes 0 to 31536000/],
    ['a maximum lifetime of 0', ['--api', '--api-max-lifetime-seconds=0', '--api-default-max-lifetime-seconds=0'], { SPAWNER_API_TOKEN: token }, /--api-max-lifetime-seconds \(SPAWNER_API_MAX_LIFETIME_SECONDS\) = 0 is invalid: spec.maxLifetimeSeconds takes 1 to 31536000/],
    ['a default lifetime above the maximum', ['--api', '--api-default-max-lifetime-seconds=7200', '--api-max-lifetime-seconds=3600'], { SPAWNER_API_TOKEN: token }, /--api-default-max-lifetime-seconds \(7200\) must not exceed --api-max-lifetime-seconds \(3600\)/],
    ['a rate of 0', ['--api', '--api-init-per-second=0'], { SPAWNER_API_TOKEN: token }, /--api-init-per-second = '0' is invalid: must be a number > 0/],
    ['a burst of 0', ['--api', '--api-init-burst=0'], { SPAWNER_API_TOKEN: token }, /--api-init-burst \(SPAWNER_API_INIT_BURST\) = 0 is invalid: at least 1/],
    ['no streams', [], { SPAWNER_API_ENABLED: 'true', SPAWNER_API_TOKEN: token, SPAWNER_API_MAX_STREAMS: '0' }, /--api-max-streams \(SPAWNER_API_MAX_STREAMS\) = 0 is invalid: at least 1/],
    ['a lifetime that is no number', ['--api', '--api-max-lifetime-seconds=a day'], { SPAWNER_API_TOKEN: token }, /--api-max-lifetime-seconds = 'a day' is invalid: must be a whole number/],
  ])('%s', (_what, argv, env, message) => {
    expect(() => settings(argv, env)).toThrow(ConfigError);
    expect(() => settings(argv, env)).toThrow(message);
  });
});
