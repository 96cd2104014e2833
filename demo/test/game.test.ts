import { describe, expect, test } from '@jest/globals';
import { join, leave, move, newSession, restart, roleOf, view, type Session } from '../src/game.ts';
import { boardToRows } from '../src/rules.ts';

function seat(...ids: string[]): Session {
  let session = newSession();
  for (const id of ids) session = join(session, id).session;
  return session;
}

function mustMove(session: Session, id: string, column: number): Session {
  const result = move(session, id, column);
  if (!result.ok) throw new Error(`${id} column ${column}: ${result.error}`);
  return result.session;
}

describe('seating', () => {
  test.each([
    ['first comer plays red', ['a'], 'a', 'red'],
    ['second comer plays yellow', ['a', 'b'], 'b', 'yellow'],
    ['third comer watches', ['a', 'b', 'c'], 'c', 'spectator'],
    ['fourth comer watches too', ['a', 'b', 'c', 'd'], 'd', 'spectator'],
    ['joining twice keeps the seat', ['a', 'b', 'a'], 'a', 'red'],
  ])('%s', (_name, ids, who, role) => {
    expect(roleOf(seat(...ids), who)).toBe(role);
  });

  test('a player joining is announced with their colour', () => {
    expect(join(seat('a'), 'b').notices).toEqual([{ type: 'player-joined', colour: 'yellow' }]);
    expect(join(seat('a', 'b'), 'c').notices).toEqual([]);
  });

  test('the view tells each client its own role and who is seated', () => {
    const session = seat('a', 'b', 'c');
    expect(view(session, 'a')).toMatchObject({ you: 'red', players: { red: true, yellow: true }, spectators: 1 });
    expect(view(session, 'c').you).toBe('spectator');
    expect(view(seat('a'), 'a').players).toEqual({ red: true, yellow: false });
  });
});

describe('moves', () => {
  test('a lone player cannot move until an opponent sits down', () => {
    expect(move(seat('a'), 'a', 0)).toEqual({ ok: false, error: 'waiting-for-opponent' });
  });

  test.each([
    ['a spectator', 'c', 0, 'not-a-player'],
    ['a stranger', 'z', 0, 'not-a-player'],
    ['yellow out of turn', 'b', 0, 'not-your-turn'],
    ['red out of range', 'a', 9, 'column-out-of-range'],
  ])('%s is refused', (_name, who, column, error) => {
    expect(move(seat('a', 'b', 'c'), who, column)).toEqual({ ok: false, error });
  });

  test('players alternate and the board changes', () => {
    let session = seat('a', 'b');
    session = mustMove(session, 'a', 3);
    session = mustMove(session, 'b', 3);
    expect(boardToRows(session.game.board).slice(4)).toEqual(['...Y...', '...R...']);
    expect(view(session, 'a').turn).toBe('red');
  });
});

describe('leaving', () => {
  test('a player leaving frees the seat and tells the others', () => {
    const change = leave(seat('a', 'b'), 'a');
    expect(change.notices).toEqual([{ type: 'player-left', colour: 'red' }]);
    expect(change.session.seats).toEqual({ red: null, yellow: 'b' });
    expect(view(change.session, 'b').players).toEqual({ red: false, yellow: true });
  });

  test('the board is kept, and the next comer takes the free seat and plays on', () => {
    let session = mustMove(seat('a', 'b'), 'a', 0);
    session = leave(session, 'b').session;
    expect(move(session, 'a', 1)).toEqual({ ok: false, error: 'waiting-for-opponent' });
    const rejoined = join(session, 'b2');
    expect(rejoined.role).toBe('yellow');
    session = mustMove(rejoined.session, 'b2', 1);
    expect(session.game.moves).toBe(2);
  });

  test('the first spectator takes a freed seat at once', () => {
    const change = leave(seat('a', 'b', 'c', 'd'), 'b');
    expect(change.notices).toEqual([
      { type: 'player-left', colour: 'yellow' },
      { type: 'player-joined', colour: 'yellow' },
    ]);
    expect(roleOf(change.session, 'c')).toBe('yellow');
    expect(roleOf(change.session, 'd')).toBe('spectator');
    expect(roleOf(change.session, 'b')).toBeNull();
  });

  test('a spectator leaving changes no seat and announces nothing', () => {
    const before = seat('a', 'b', 'c');
    const change = leave(before, 'c');
    expect(change.notices).toEqual([]);
    expect(change.session.seats).toEqual(before.seats);
    expect(change.session.spectators).toEqual([]);
  });

  test('a stranger leaving changes nothing', () => {
    const before = seat('a');
    expect(leave(before, 'z')).toEqual({ session: before, notices: [] });
  });

  test('when everyone has left the next players start on an empty board', () => {
    let session = mustMove(seat('a', 'b'), 'a', 0);
    session = leave(leave(session, 'a').session, 'b').session;
    expect(session.game.moves).toBe(0);
    expect(session.round).toBe(2);
  });
});

describe('restart', () => {
  function won(): Session {
    let session = seat('a', 'b');
    for (const [who, column] of [['a', 0], ['b', 1], ['a', 0], ['b', 1], ['a', 0], ['b', 1], ['a', 0]] as const) {
      session = mustMove(session, who, column);
    }
    return session;
  }

  test('is refused while the game is being played', () => {
    expect(restart(seat('a', 'b'), 'a')).toEqual({ ok: false, error: 'game-not-over' });
  });

  test('is refused to spectators', () => {
    expect(restart(join(won(), 'c').session, 'c')).toEqual({ ok: false, error: 'not-a-player' });
  });

  test('after a win starts an empty board opened by the other colour', () => {
    const before = won();
    expect(before.game.outcome.kind).toBe('win');
    const result = restart(before, 'b');
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.session.game.moves).toBe(0);
    expect(result.session.game.turn).toBe('yellow');
    expect(result.session.round).toBe(before.round + 1);
    // and the game after that is opened by red again
    let session = result.session;
    session = mustMove(session, 'b', 3);
    for (const [who, column] of [['a', 0], ['b', 1], ['a', 0], ['b', 1], ['a', 0], ['b', 1]] as const) {
      session = mustMove(session, who, column);
    }
    session = mustMove(session, 'a', 0);
    expect(session.game.outcome.kind).toBe('win');
    const again = restart(session, 'a');
    expect(again.ok && again.session.game.turn).toBe('red');
  });
});
