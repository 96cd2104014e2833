// A Server-Sent Events client for one sidecar's /events: a pure incremental parser, and a connection
// that notices a dead stream (no byte, not even a heartbeat comment, for `deadAfterMs`) and reconnects
// with backoff. Written for long-lived streams to many pods: one socket each, no pooling, and every
// socket and timer released on close().

import * as http from 'node:http';
import { backoffDelay, type BackoffPolicy } from '../../common/kube/backoff.ts';
import { systemClock, type Clock, type TimerHandle } from '../../common/kube/clock.ts';

export type SseItem =
  | { kind: 'message'; event: string; data: string; id: string | undefined }
  | { kind: 'comment'; text: string }
  | { kind: 'retry'; ms: number };

// Follows the WHATWG event-stream grammar: lines end in CRLF, LF or CR (a CR may be the last byte of
// one chunk and its LF the first of the next), a blank line dispatches, `:` starts a comment.
export class SseParser {
  #line = '';
  #skipLeadingLf = false;
  #started = false;
  #data: string[] = [];
  #event = '';
  #lastId: string | undefined;

  push(text: string): SseItem[] {
    const out: SseItem[] = [];
    let chunk = text;
    if (!this.#started && chunk.length > 0) {
      this.#started = true;
      if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1);
    }
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (this.#skipLeadingLf) {
        this.#skipLeadingLf = false;
        if (c === 0x0a) {
          start = i + 1;
          continue;
        }
      }
      if (c === 0x0a || c === 0x0d) {
        this.#line += chunk.slice(start, i);
        this.#processLine(this.#line, out);
        this.#line = '';
        start = i + 1;
        if (c === 0x0d) this.#skipLeadingLf = true;
      }
    }
    this.#line += chunk.slice(start);
    return out;
  }

  #processLine(line: string, out: SseItem[]): void {
    if (line === '') {
      if (this.#data.length > 0) {
        out.push({ kind: 'message', event: this.#event || 'message', data: this.#data.join('\n'), id: this.#lastId });
      }
      this.#data = [];
      this.#event = '';
      return;
    }
    if (line.startsWith(':')) {
      out.push({ kind: 'comment', text: line.slice(1).replace(/^ /, '') });
      return;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    switch (field) {
      case 'data':
        this.#data.push(value);
        break;
      case 'event':
        this.#event = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.#lastId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) out.push({ kind: 'retry', ms: Number(value) });
        break;
      default: // unknown fields are ignored, as the grammar requires
    }
  }
}

export interface SseHandlers {
  open?(): void;
  message(data: string, event: string): void;
  comment?(text: string): void;
  // The stream is gone (refused, bad response, ended, or silent too long); it reconnects in retryInMs.
  down(reason: string, retryInMs: number): void;
}

export interface SseClientOptions {
  url: string;
  deadAfterMs: number; // no byte for this long means the stream is dead: twice the heartbeat
  connectTimeoutMs: number; // until the response headers arrive
  backoff: BackoffPolicy;
  handlers: SseHandlers;
  clock?: Clock;
  random?: () => number;
}

export type SseState = 'new' | 'connecting' | 'open' | 'waiting' | 'closed';

export class SseClient {
  #opts: SseClientOptions;
  #clock: Clock;
  #state: SseState = 'new';
  #req: http.ClientRequest | undefined;
  #timer: TimerHandle | undefined; // the connect deadline, the silence check, or the reconnect delay
  #lastByteAt = 0;
  #failures = 0;
  #attempt = 0; // identifies the current connection so late callbacks of an old one are ignored

  constructor(opts: SseClientOptions) {
    this.#opts = opts;
    this.#clock = opts.clock ?? systemClock;
  }

  get state(): SseState {
    return this.#state;
  }

  start(): void {
    if (this.#state !== 'new') return;
    this.#connect();
  }

  close(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#attempt++;
    this.#clearTimer();
    this.#req?.destroy();
    this.#req = undefined;
  }

  #connect(): void {
    const attempt = ++this.#attempt;
    this.#state = 'connecting';
    const req = http.get(this.#opts.url, {
      agent: false,
      headers: { accept: 'text/event-stream', 'cache-control': 'no-cache' },
    });
    this.#req = req;
    this.#setTimer(this.#opts.connectTimeoutMs, () => this.#fail(attempt, `no response within ${this.#opts.connectTimeoutMs} ms`));
    req.on('error', (err) => this.#fail(attempt, err.message));
    req.on('close', () => this.#fail(attempt, 'connection closed'));
    req.on('response', (res) => {
      if (attempt !== this.#attempt) return;
      const type = String(res.headers['content-type'] ?? '');
      if (res.statusCode !== 200 || !type.startsWith('text/event-stream')) {
        res.resume();
        this.#fail(attempt, `unexpected response: HTTP ${res.statusCode} ${type}`);
        return;
      }
      this.#state = 'open';
      this.#lastByteAt = this.#clock.now();
      this.#armSilenceCheck(attempt, this.#opts.deadAfterMs);
      const parser = new SseParser();
      res.setEncoding('utf8');
      res.on('data', (text: string) => {
        if (attempt !== this.#attempt) return;
        this.#lastByteAt = this.#clock.now();
        for (const item of parser.push(text)) {
          if (attempt !== this.#attempt) return; // a handler closed us
          this.#dispatch(item);
        }
      });
      res.on('end', () => this.#fail(attempt, 'stream ended'));
      res.on('error', (err) => this.#fail(attempt, err.message));
      this.#opts.handlers.open?.();
    });
  }

  #dispatch(item: SseItem): void {
    if (item.kind === 'message') {
      // Only a stream that delivered something counts as a success; one that answers 200 and hangs up
      // at once must keep backing off.
      this.#failures = 0;
      this.#opts.handlers.message(item.data, item.event);
    } else if (item.kind === 'comment') {
      this.#opts.handlers.comment?.(item.text);
    }
  }

  #armSilenceCheck(attempt: number, inMs: number): void {
    this.#setTimer(inMs, () => {
      if (attempt !== this.#attempt) return;
      const silentFor = this.#clock.now() - this.#lastByteAt;
      if (silentFor >= this.#opts.deadAfterMs) this.#fail(attempt, `no bytes for ${silentFor} ms`);
      else this.#armSilenceCheck(attempt, this.#opts.deadAfterMs - silentFor);
    });
  }

  #fail(attempt: number, reason: string): void {
    if (attempt !== this.#attempt || this.#state === 'closed') return;
    this.#attempt++;
    this.#clearTimer();
    this.#req?.destroy();
    this.#req = undefined;
    const delay = backoffDelay(this.#opts.backoff, this.#failures++, this.#opts.random?.());
    this.#state = 'waiting';
    this.#setTimer(delay, () => {
      this.#timer = undefined;
      if (this.#state === 'waiting') this.#connect();
    });
    this.#opts.handlers.down(reason, delay);
  }

  #setTimer(ms: number, fn: () => void): void {
    this.#clearTimer();
    this.#timer = this.#clock.setTimeout(fn, ms);
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
