// The sidecar's log: JSON lines on stdout with the fields the other components' lines have
//   {"level":"info","time":"…Z","component":"sidecar","namespace":"…","name":"…",…,"msg":"…"}
// written synchronously (stdout is a pipe or a file in a container: both synchronous on Linux), so a
// line logged just before exit is never lost. The sidecar logs a few lines in its life; loading
// pino, which the other components use, and writing one line cost a process 7 MB more peak RSS and
// 25 ms more CPU than writing that line by hand (55 vs 30 ms; sidecar/README.md, "Start-up and
// memory").

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
type Fields = Record<string, unknown>;

export interface Log {
  debug(fields: Fields, msg: string): void;
  debug(msg: string): void;
  info(fields: Fields, msg: string): void;
  info(msg: string): void;
  warn(fields: Fields, msg: string): void;
  warn(msg: string): void;
  error(fields: Fields, msg: string): void;
  error(msg: string): void;
  fatal(fields: Fields, msg: string): void;
  fatal(msg: string): void;
  /** A log whose every line also carries `bindings` (e.g. the backend's namespace and name). */
  child(bindings: Fields): Log;
}

export interface LogOptions {
  level: LogLevel;
  bindings: Fields; // on every line, after level and time
  write?: (line: string) => void; // default: stdout
  now?: () => Date;
}

// An Error's own fields do not survive JSON.stringify; this keeps what a reader needs.
function serializable(value: unknown): unknown {
  if (!(value instanceof Error)) return value;
  const { name, message, stack } = value;
  return { type: name, message, stack, ...Object.fromEntries(Object.entries(value)) };
}

/** One line: level, time, bindings, fields (Errors expanded), msg last. Pure, for tests. */
export function formatLine(level: LogLevel, time: Date, bindings: Fields, fields: Fields | undefined, msg: string): string {
  const line: Fields = { level, time: time.toISOString(), ...bindings };
  if (fields) for (const key of Object.keys(fields)) line[key] = serializable(fields[key]);
  line.msg = msg;
  return `${JSON.stringify(line)}\n`;
}

export function createLog(options: LogOptions): Log {
  const threshold = LOG_LEVELS.indexOf(options.level);
  const write = options.write ?? ((line: string) => void process.stdout.write(line));
  const now = options.now ?? (() => new Date());
  const at =
    (level: LogLevel) =>
    (fieldsOrMsg: Fields | string, msg?: string): void => {
      if (LOG_LEVELS.indexOf(level) < threshold) return;
      const fields = typeof fieldsOrMsg === 'string' ? undefined : fieldsOrMsg;
      write(formatLine(level, now(), options.bindings, fields, typeof fieldsOrMsg === 'string' ? fieldsOrMsg : (msg ?? '')));
    };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    fatal: at('fatal'),
    child: (bindings) => createLog({ ...options, bindings: { ...options.bindings, ...bindings } }),
  };
}
