// The state of the one game a drop-four backend hosts: who sits where, who watches, and the board.
// Pure: every function takes a Session and returns a new one plus the notices the server must send.

import { applyMove, newGame, other, type Disc, type GameState, type MoveError } from './rules.ts';

export type ClientId = string;
export type Role = Disc | 'spectator';

export interface Session {
  seats: Readonly<Record<Disc, ClientId | null>>;
  spectators: readonly ClientId[]; // in arrival order: the first one takes the next free seat
  game: GameState;
  round: number; // counts games played in this session, so a client can tell a restart from a move
}

// What every connected client is told besides the new state.
export type Notice =
  | { type: 'player-joined'; colour: Disc }
  | { type: 'player-left'; colour: Disc };

export interface Change {
  session: Session;
  notices: Notice[];
}

export type ActionError = MoveError | 'not-a-player' | 'waiting-for-opponent' | 'game-not-over';

export type ActionResult = { ok: true; session: Session } | { ok: false; error: ActionError };

const SEAT_ORDER: readonly Disc[] = ['red', 'yellow'];

export function newSession(): Session {
  return { seats: { red: null, yellow: null }, spectators: [], game: newGame('red'), round: 1 };
}

export function roleOf(session: Session, id: ClientId): Role | null {
  for (const colour of SEAT_ORDER) if (session.seats[colour] === id) return colour;
  return session.spectators.includes(id) ? 'spectator' : null;
}

function freeSeat(session: Session): Disc | null {
  return SEAT_ORDER.find((colour) => session.seats[colour] === null) ?? null;
}

// A newcomer takes a free seat (red first); with both seats taken they watch.
export function join(session: Session, id: ClientId): Change & { role: Role } {
  const existing = roleOf(session, id);
  if (existing) return { session, notices: [], role: existing };
  const seat = freeSeat(session);
  if (seat === null) return { session: { ...session, spectators: [...session.spectators, id] }, notices: [], role: 'spectator' };
  return {
    session: { ...session, seats: { ...session.seats, [seat]: id } },
    notices: [{ type: 'player-joined', colour: seat }],
    role: seat,
  };
}

// A player leaving frees their seat and the board is kept, so whoever sits down next (the first
// spectator at once, or the next newcomer, e.g. the same person reloading the page) plays on.
// When nobody is left at all, the session starts over with an empty board.
export function leave(session: Session, id: ClientId): Change {
  const role = roleOf(session, id);
  if (role === null) return { session, notices: [] };
  if (role === 'spectator') {
    return { session: { ...session, spectators: session.spectators.filter((s) => s !== id) }, notices: [] };
  }
  const notices: Notice[] = [{ type: 'player-left', colour: role }];
  const [next, ...rest] = session.spectators;
  if (next !== undefined) notices.push({ type: 'player-joined', colour: role });
  const seats = { ...session.seats, [role]: next ?? null };
  if (seats.red === null && seats.yellow === null) return { session: { ...newSession(), round: session.round + 1 }, notices };
  return { session: { ...session, seats, spectators: rest }, notices };
}

export function move(session: Session, id: ClientId, column: unknown): ActionResult {
  const role = roleOf(session, id);
  if (role === null || role === 'spectator') return { ok: false, error: 'not-a-player' };
  if (session.game.outcome.kind === 'playing' && (session.seats.red === null || session.seats.yellow === null)) {
    return { ok: false, error: 'waiting-for-opponent' };
  }
  const result = applyMove(session.game, role, column);
  if (!result.ok) return result;
  return { ok: true, session: { ...session, game: result.state } };
}

// After a win or a draw either player may start the next game; the colour that did not open the last
// game opens this one.
export function restart(session: Session, id: ClientId): ActionResult {
  const role = roleOf(session, id);
  if (role === null || role === 'spectator') return { ok: false, error: 'not-a-player' };
  if (session.game.outcome.kind === 'playing') return { ok: false, error: 'game-not-over' };
  const lastStarter = session.game.moves % 2 === 0 ? session.game.turn : other(session.game.turn);
  return { ok: true, session: { ...session, game: newGame(other(lastStarter)), round: session.round + 1 } };
}

// The state message one client receives: the same for everyone except `you`.
export interface StateView {
  type: 'state';
  you: Role;
  round: number;
  board: GameState['board'];
  turn: Disc;
  outcome: GameState['outcome'];
  lastMove: GameState['lastMove'];
  moves: number;
  players: Record<Disc, boolean>;
  spectators: number;
}

export function view(session: Session, id: ClientId): StateView {
  return {
    type: 'state',
    you: roleOf(session, id) ?? 'spectator',
    round: session.round,
    board: session.game.board,
    turn: session.game.turn,
    outcome: session.game.outcome,
    lastMove: session.game.lastMove,
    moves: session.game.moves,
    players: { red: session.seats.red !== null, yellow: session.seats.yellow !== null },
    spectators: session.spectators.length,
  };
}
