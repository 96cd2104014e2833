import { describe, expect, test } from '@jest/globals';
import {
  applyMove,
  boardFromRows,
  boardToRows,
  newGame,
  validateMove,
  winningLine,
  type Disc,
  type GameState,
  type MoveError,
} from '../src/rules.ts';

// A game in progress with the given picture, `turn` to move.
function position(rows: string[], turn: Disc): GameState {
  const board = boardFromRows(rows);
  const moves = rows.join('').replace(/\./g, '').length;
  return { board, turn, outcome: { kind: 'playing' }, lastMove: null, moves };
}

// Plays columns alternately from a new game; fails loudly if any move is refused.
function play(columns: number[], starter: Disc = 'red'): GameState {
  let state = newGame(starter);
  for (const column of columns) {
    const result = applyMove(state, state.turn, column);
    if (!result.ok) throw new Error(`move ${column} refused: ${result.error}`);
    state = result.state;
  }
  return state;
}

describe('dropping a disc', () => {
  test('falls to the lowest free row and passes the turn', () => {
    const result = applyMove(newGame('red'), 'red', 3);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(boardToRows(result.state.board)).toEqual(['.......', '.......', '.......', '.......', '.......', '...R...']);
    expect(result.state.turn).toBe('yellow');
    expect(result.state.lastMove).toEqual({ row: 5, column: 3 });
    expect(result.state.outcome).toEqual({ kind: 'playing' });
  });

  test('stacks on top of earlier discs', () => {
    const state = play([3, 3, 3]);
    expect(boardToRows(state.board).slice(3)).toEqual(['...R...', '...Y...', '...R...']);
    expect(state.turn).toBe('yellow');
  });

  test('leaves the previous state untouched', () => {
    const before = newGame('red');
    applyMove(before, 'red', 0);
    expect(boardToRows(before.board).every((row) => row === '.......')).toBe(true);
  });
});

describe('refused moves', () => {
  const full = position(['...R...', '...Y...', '...R...', '...Y...', '...R...', '...Y...'], 'red');
  const cases: [string, GameState, Disc, unknown, MoveError][] = [
    ['wrong turn', newGame('red'), 'yellow', 0, 'not-your-turn'],
    ['column full', full, 'red', 3, 'column-full'],
    ['column below range', newGame('red'), 'red', -1, 'column-out-of-range'],
    ['column above range', newGame('red'), 'red', 7, 'column-out-of-range'],
    ['fractional column', newGame('red'), 'red', 2.5, 'column-out-of-range'],
    ['column as a string', newGame('red'), 'red', '3', 'column-out-of-range'],
    ['missing column', newGame('red'), 'red', undefined, 'column-out-of-range'],
    ['NaN column', newGame('red'), 'red', Number.NaN, 'column-out-of-range'],
    ['after a win', play([0, 1, 0, 1, 0, 1, 0]), 'yellow', 2, 'game-over'],
  ];
  test.each(cases)('%s', (_name, state, disc, column, error) => {
    expect(validateMove(state, disc, column)).toBe(error);
    expect(applyMove(state, disc, column)).toEqual({ ok: false, error });
  });

  test('the other columns of a board with one full column still take discs', () => {
    expect(validateMove(full, 'red', 2)).toBeNull();
  });
});

describe('wins', () => {
  // Each case: a position, whose move, the column played, and the cells of the line it completes
  // (sorted top to bottom, then left to right).
  const cases: [string, string[], Disc, number, [number, number][]][] = [
    [
      'horizontal, completed at the end',
      ['.......', '.......', '.......', '.......', 'YYY....', 'RRR....'],
      'red', 3,
      [[5, 0], [5, 1], [5, 2], [5, 3]],
    ],
    [
      'horizontal, completed in the middle',
      ['.......', '.......', '.......', '.......', 'YY.Y...', 'RRYRRY.'],
      'yellow', 2,
      [[4, 0], [4, 1], [4, 2], [4, 3]],
    ],
    [
      'vertical',
      ['.......', '.......', '.......', '..Y..R.', '..Y..R.', '..Y..R.'],
      'yellow', 2,
      [[2, 2], [3, 2], [4, 2], [5, 2]],
    ],
    [
      'diagonal rising to the right, completed at the top',
      ['.......', '.......', '.......', '...RY..', '..RYY..', '.RYYR..'],
      'red', 4,
      [[2, 4], [3, 3], [4, 2], [5, 1]],
    ],
    [
      'diagonal falling to the right, completed at the top',
      ['.......', '.......', '.......', '.YR....', '.YYR...', '.RYYR..'],
      'red', 1,
      [[2, 1], [3, 2], [4, 3], [5, 4]],
    ],
    [
      'diagonal falling to the right, completed in the middle',
      ['.......', '.......', '.R.....', '.YR....', '.YY....', '.RYYR..'],
      'red', 3,
      [[2, 1], [3, 2], [4, 3], [5, 4]],
    ],
  ];
  test.each(cases)('%s', (_name, rows, disc, column, line) => {
    const before = position(rows, disc);
    expect(before.board.every((cells, row) => cells.every((_c, col) => winningLine(before.board, { row, column: col }) === null))).toBe(true);
    const result = applyMove(before, disc, column);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.state.outcome).toEqual({
      kind: 'win',
      winner: disc,
      line: line.map(([row, c]) => ({ row, column: c })),
    });
  });

  const nearMisses: [string, string[], Disc, number][] = [
    ['three with the fourth cell taken by the other colour', ['.......', '.......', '.......', '.......', '.......', 'RRYR...'], 'red', 4],
    ['a disc that lands above the row with the gap', ['.......', '.......', '.......', '.......', '..R....', 'RRYR...'], 'red', 2],
    ['vertical three interrupted', ['.......', '.......', '.......', 'R......', 'R......', 'Y......'], 'red', 0],
  ];
  test.each(nearMisses)('no win: %s', (_name, rows, disc, column) => {
    const result = applyMove(position(rows, disc), disc, column);
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.state.outcome).toEqual({ kind: 'playing' });
  });

  const lines: [string, string[], [number, number]][] = [
    ['horizontal', ['.......', '.......', '.......', '.......', '.......', '...RRRR'], [5, 5]],
    ['vertical', ['.......', '.......', 'Y......', 'Y......', 'Y......', 'Y......'], [2, 0]],
    ['diagonal down-right', ['R......', '.R.....', '..R....', '...R...', '.......', '.......'], [1, 1]],
    ['diagonal down-left', ['.......', '.......', '......Y', '.....Y.', '....Y..', '...Y...'], [4, 4]],
    ['five in a row counts', ['.......', '.......', '.......', '.......', '.......', 'RRRRR..'], [5, 2]],
  ];
  test.each(lines)('winningLine finds a %s line through any of its discs', (_name, rows, [row, column]) => {
    const line = winningLine(boardFromRows(rows), { row, column });
    expect(line).not.toBeNull();
    expect(line!.length).toBeGreaterThanOrEqual(4);
    const disc = boardFromRows(rows)[row]![column];
    for (const p of line!) expect(boardFromRows(rows)[p.row]![p.column]).toBe(disc);
  });

  const notLines: [string, string[], [number, number]][] = [
    ['three in a row', ['.......', '.......', '.......', '.......', '.......', 'RRR.RRR'], [5, 0]],
    ['broken by the other colour', ['.......', '.......', '.......', '.......', '.......', 'RRYRR..'], [5, 1]],
    ['vertical three', ['.......', '.......', '.......', 'R......', 'R......', 'R......'], [3, 0]],
    ['empty cell', ['.......', '.......', '.......', '.......', '.......', '.......'], [5, 0]],
  ];
  test.each(notLines)('winningLine finds nothing for %s', (_name, rows, [row, column]) => {
    expect(winningLine(boardFromRows(rows), { row, column })).toBeNull();
  });

  test('a full game played from the start ends in a vertical win for red', () => {
    const state = play([0, 1, 0, 1, 0, 1, 0]);
    expect(state.outcome.kind).toBe('win');
    if (state.outcome.kind === 'win') expect(state.outcome.winner).toBe('red');
  });
});

describe('draw', () => {
  // Filled column pairs in a pattern that never lines up four: RRYYRRY… shifted per row.
  const almostFull = [
    'RYRYRY.',
    'RYRYRYY',
    'YRYRYRR',
    'YRYRYRY',
    'RYRYRYR',
    'RYRYRYR',
  ];
  test('the last disc filling the board without a line is a draw', () => {
    // Check the fixture has no line anywhere before the last move.
    const board = boardFromRows(almostFull);
    for (let row = 0; row < 6; row++) {
      for (let column = 0; column < 7; column++) expect(winningLine(board, { row, column })).toBeNull();
    }
    const result = applyMove(position(almostFull, 'yellow'), 'yellow', 6);
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.state.outcome).toEqual({ kind: 'draw' });
  });

  test('a win with the very last disc is a win, not a draw', () => {
    const rows = [
      'RYRYRY.',
      'RYRYRYR',
      'YRYRYRR',
      'YRYRYRR',
      'RYRYRYY',
      'RYRYRYY',
    ];
    const result = applyMove(position(rows, 'red'), 'red', 6);
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.state.outcome.kind).toBe('win');
  });

  test('no move is accepted after a draw', () => {
    const result = applyMove(position(almostFull, 'yellow'), 'yellow', 6);
    if (!result.ok) throw new Error('draw move refused');
    expect(validateMove(result.state, result.state.turn, 0)).toBe('game-over');
  });
});
