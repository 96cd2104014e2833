import { expect, test } from '@jest/globals';
import { backendsWaitingFor } from '../../src/controller.ts';
import { slb } from '../fixtures.ts';
import { pool } from './fixtures.ts';

test('a pool\'s events bring back the backends that name it and have no Pod yet', () => {
  const games = pool();
  const named = (name: string, o: object = {}) => slb({ metadata: { name }, spec: { template: undefined, poolRef: { name: 'games' } }, ...o });
  const backends = [
    named('waiting'),
    named('claimed', { status: { phase: 'Ready', podName: 'games-x' } }),
    named('leaving', { metadata: { name: 'leaving', deletionTimestamp: new Date() } }),
    slb({ metadata: { name: 'cold-start' } }),
    { ...named('elsewhere'), metadata: { ...named('elsewhere').metadata, namespace: 'other' } },
  ];
  expect(backendsWaitingFor(games, () => backends)).toEqual(['sessions/waiting']);
});
