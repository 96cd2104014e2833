// Connect Four rules as pure functions over immutable values: no I/O, no clocks, so every rule is a
// table-driven test away from being checked.

export const COLUMNS = 7;
export const ROWS = 6;
export const CONNECT = 4;

export type Disc = 'red' | 'yellow';
export type Cell = Disc | null;
// board[row][column]; row 0 is the top row, as the page draws it. Discs fall towards row ROWS - 1.
export type Board = readonly (readonly Cell[])[];
export type Position = { row: number; column: number };

export type Outcome =
  | { kind: 'playing' }
  | { kind: 'win'; winner: Disc; line: Position[] }
  | { kind: 'draw' };

export interface GameState {
  board: Board;
  turn: Disc; // whose move it is; meaningless once the outcome is not 'playing'
  outcome: Outcome;
  lastMove: Position | null;
  moves: number;
}

export type MoveError = 'game-over' | 'not-your-turn' | 'column-out-of-range' | 'column-full';

export function other(disc: Disc): Disc {
  return disc === 'red' ? 'yellow' : 'red';
}

export function emptyBoard(): Board {
  return Array.from({ length: ROWS }, () => Array.from({ length: COLUMNS }, () => null));
}

export function newGame(starter: Disc = 'red'): GameState {
  return { board: emptyBoard(), turn: starter, outcome: { kind: 'playing' }, lastMove: null, moves: 0 };
}

// The row a disc dropped into `column` would land in, or null when the column is full.
export function landingRow(board: Board, column: number): number | null {
  for (let row = ROWS - 1; row >= 0; row--) {
    if (board[row]![column] === null) return row;
  }
  return null;
}

// `column` arrives from the network, so anything that is not a whole number in range is refused here.
export function validateMove(state: GameState, disc: Disc, column: unknown): MoveError | null {
  if (state.outcome.kind !== 'playing') return 'game-over';
  if (disc !== state.turn) return 'not-your-turn';
  if (typeof column !== 'number' || !Number.isInteger(column) || column < 0 || column >= COLUMNS) {
    return 'column-out-of-range';
  }
  if (landingRow(state.board, column) === null) return 'column-full';
  return null;
}

const DIRECTIONS: readonly (readonly [number, number])[] = [
  [0, 1], // horizontal
  [1, 0], // vertical
  [1, 1], // diagonal going down to the right
  [1, -1], // diagonal going down to the left
];

function discAt(board: Board, row: number, column: number): Cell {
  if (row < 0 || row >= ROWS || column < 0 || column >= COLUMNS) return null;
  return board[row]![column]!;
}

// Only lines through the newest disc can have just been completed, so only those are checked.
export function winningLine(board: Board, at: Position): Position[] | null {
  const disc = discAt(board, at.row, at.column);
  if (disc === null) return null;
  for (const [dr, dc] of DIRECTIONS) {
    const line: Position[] = [at];
    for (const sign of [1, -1]) {
      let row = at.row + sign * dr;
      let column = at.column + sign * dc;
      while (discAt(board, row, column) === disc) {
        line.push({ row, column });
        row += sign * dr;
        column += sign * dc;
      }
    }
    if (line.length >= CONNECT) return line.sort((a, b) => a.row - b.row || a.column - b.column);
  }
  return null;
}

export function isFull(board: Board): boolean {
  return board[0]!.every((cell) => cell !== null);
}

export type MoveResult = { ok: true; state: GameState } | { ok: false; error: MoveError };

export function applyMove(state: GameState, disc: Disc, column: unknown): MoveResult {
  const error = validateMove(state, disc, column);
  if (error) return { ok: false, error };
  const col = column as number;
  const row = landingRow(state.board, col)!;
  const board = state.board.map((cells, r) => (r === row ? cells.map((cell, c) => (c === col ? disc : cell)) : cells));
  const at = { row, column: col };
  const line = winningLine(board, at);
  const outcome: Outcome = line ? { kind: 'win', winner: disc, line } : isFull(board) ? { kind: 'draw' } : { kind: 'playing' };
  return { ok: true, state: { board, turn: other(disc), outcome, lastMove: at, moves: state.moves + 1 } };
}

// Builds a board from a picture, top row first: '.' empty, 'R' red, 'Y' yellow. For tests and logs.
export function boardFromRows(rows: readonly string[]): Board {
  if (rows.length !== ROWS) throw new Error(`a board has ${ROWS} rows, got ${rows.length}`);
  return rows.map((line) => {
    if (line.length !== COLUMNS) throw new Error(`a row has ${COLUMNS} cells: '${line}'`);
    return [...line].map((ch) => (ch === 'R' ? 'red' : ch === 'Y' ? 'yellow' : null));
  });
}

export function boardToRows(board: Board): string[] {
  return board.map((cells) => cells.map((cell) => (cell === 'red' ? 'R' : cell === 'yellow' ? 'Y' : '.')).join(''));
}
