// drop-four's browser client. The server holds the game; this page only draws the state it is sent
// and sends {"type":"move","column":N} or {"type":"restart"}. Protocol: demo/README.md.
'use strict';

const COLUMNS = 7;
const ROWS = 6;
const NAMES = { red: 'Red', yellow: 'Yellow' };

const $ = (id) => document.getElementById(id);
const boardEl = $('board');
const statusEl = $('status');
const youEl = $('you');
const connectionEl = $('connection');
const noticeEl = $('notice');
const restartEl = $('restart');
const audienceEl = $('audience');

// The close code of Spawner's router for a session that has ended (router/src/ws-close.ts).
const SESSION_ENDED = 4404;

let socket = null;
let state = null;
let retryDelayMs = 500;
let lastAnnounced = '';

// The board: one button per column, holding its six cells top to bottom.
const columnEls = [];
for (let c = 0; c < COLUMNS; c++) {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'column';
  button.dataset.column = String(c);
  button.tabIndex = c === 0 ? 0 : -1;
  for (let r = 0; r < ROWS; r++) {
    const cell = document.createElement('span');
    cell.className = 'cell';
    cell.setAttribute('aria-hidden', 'true');
    button.appendChild(cell);
  }
  button.addEventListener('click', () => play(c));
  boardEl.appendChild(button);
  columnEls.push(button);
}

// Roving focus across the columns, plus 1–7 as shortcuts.
boardEl.addEventListener('keydown', (event) => {
  const current = columnEls.indexOf(document.activeElement);
  if (event.key === 'ArrowLeft' || event.key === 'ArrowRight') {
    const next = (current + (event.key === 'ArrowLeft' ? COLUMNS - 1 : 1)) % COLUMNS;
    focusColumn(next);
    event.preventDefault();
  }
});
document.addEventListener('keydown', (event) => {
  if (event.target instanceof HTMLInputElement) return;
  const n = Number(event.key);
  if (Number.isInteger(n) && n >= 1 && n <= COLUMNS) {
    focusColumn(n - 1);
    play(n - 1);
  }
});

function focusColumn(c) {
  columnEls.forEach((el, i) => (el.tabIndex = i === c ? 0 : -1));
  columnEls[c].focus();
}

restartEl.addEventListener('click', () => send({ type: 'restart' }));

function myTurn() {
  return state && state.outcome.kind === 'playing' && state.you === state.turn && state.players.red && state.players.yellow;
}

function play(column) {
  if (!myTurn()) return;
  if (state.board[0][column] !== null) {
    noticeEl.textContent = 'That column is full.';
    return;
  }
  send({ type: 'move', column });
}

function send(message) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
}

function setConnection(kind, text) {
  connectionEl.dataset.state = kind;
  connectionEl.textContent = text;
}

function describe(s) {
  const outcome = s.outcome;
  if (outcome.kind === 'win') {
    if (s.you === outcome.winner) return 'You win!';
    return `${NAMES[outcome.winner]} wins.`;
  }
  if (outcome.kind === 'draw') return 'Draw: the board is full.';
  if (!s.players.red || !s.players.yellow) {
    return s.you === 'spectator' ? 'Waiting for a second player.' : 'Waiting for an opponent to join…';
  }
  if (s.you === s.turn) return 'Your turn.';
  return `${NAMES[s.turn]}'s turn.`;
}

function render(s) {
  const win = s.outcome.kind === 'win' ? s.outcome.line : [];
  const isWin = (r, c) => win.some((p) => p.row === r && p.column === c);
  const playable = myTurn();
  for (let c = 0; c < COLUMNS; c++) {
    const button = columnEls[c];
    let free = 0;
    for (let r = 0; r < ROWS; r++) {
      const disc = s.board[r][c];
      const cell = button.children[r];
      if (disc) cell.dataset.disc = disc;
      else {
        delete cell.dataset.disc;
        free++;
      }
      cell.dataset.last = String(!!s.lastMove && s.lastMove.row === r && s.lastMove.column === c);
      cell.dataset.win = String(isWin(r, c));
    }
    const discs = [];
    for (let r = ROWS - 1; r >= 0; r--) if (s.board[r][c]) discs.push(NAMES[s.board[r][c]]);
    const contents = discs.length ? `bottom to top: ${discs.join(', ')}` : 'empty';
    button.setAttribute('aria-label', `Column ${c + 1}, ${contents}${free === 0 ? ', full' : ''}`);
    button.setAttribute('aria-disabled', String(!playable || free === 0));
  }

  if (s.you === 'spectator') youEl.textContent = 'You are watching: both seats are taken.';
  else {
    const strong = document.createElement('strong');
    strong.dataset.disc = s.you;
    strong.textContent = NAMES[s.you];
    youEl.replaceChildren('You play ', strong, '.');
  }

  const text = describe(s);
  let announcement = text;
  if (s.lastMove && s.outcome.kind === 'playing') {
    const mover = s.board[s.lastMove.row][s.lastMove.column];
    announcement = `${NAMES[mover]} dropped in column ${s.lastMove.column + 1}. ${text}`;
  }
  if (announcement !== lastAnnounced) {
    statusEl.textContent = announcement;
    lastAnnounced = announcement;
  }
  document.title = playable ? '● Your turn · drop-four' : 'drop-four';
  restartEl.hidden = !(s.outcome.kind !== 'playing' && s.you !== 'spectator');
  audienceEl.textContent = s.spectators > 0 ? `${s.spectators} watching.` : '';
}

function onMessage(event) {
  let message;
  try {
    message = JSON.parse(event.data);
  } catch {
    return;
  }
  if (message.type === 'state') {
    if (!state || state.round !== message.round || state.moves !== message.moves) noticeEl.textContent = '';
    state = message;
    render(state);
  } else if (message.type === 'player-left') {
    noticeEl.textContent = `${NAMES[message.colour]} left the game. Their seat is free.`;
  } else if (message.type === 'player-joined' && state && state.you !== message.colour) {
    noticeEl.textContent = `${NAMES[message.colour]} joined.`;
  } else if (message.type === 'error') {
    noticeEl.textContent = message.message;
  }
}

// The socket lives at the relative URL `ws`, so it follows the page under any prefix.
function connect() {
  const url = new URL('ws', location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  setConnection('connecting', 'Connecting…');
  socket = new WebSocket(url);
  socket.addEventListener('open', () => {
    retryDelayMs = 500;
    setConnection('open', 'Connected');
  });
  socket.addEventListener('message', onMessage);
  socket.addEventListener('close', (event) => {
    // Spawner's router closes with 4404 when the session has ended (or never existed): nothing to
    // reconnect to, so say so and stop.
    if (event.code === SESSION_ENDED) {
      setConnection('ended', 'Session ended');
      statusEl.textContent = 'This session has ended.';
      noticeEl.textContent = 'Ask for a new game to play again.';
      youEl.textContent = '';
      state = null;
      boardEl.setAttribute('aria-disabled', 'true');
      restartEl.hidden = true;
      return;
    }
    const seconds = Math.round(retryDelayMs / 1000);
    setConnection('closed', `Disconnected, retrying${seconds >= 1 ? ` in ${seconds} s` : ''}…`);
    setTimeout(connect, retryDelayMs);
    retryDelayMs = Math.min(retryDelayMs * 2, 10_000);
  });
}

connect();
