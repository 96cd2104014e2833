// Every failure the CLI reports, with the exit code a script can branch on. The codes are a contract:
// they are listed in cli/README.md and must not be renumbered.

export const EXIT = {
  ok: 0,
  error: 1, // anything not listed below
  usage: 2, // invalid flags or arguments
  cluster: 3, // no kubeconfig, or the API server could not be reached
  noCrd: 4, // the SessionLivedBackend CRD is not installed
  denied: 5, // RBAC forbidden (403) or credentials rejected (401)
  notFound: 6, // the named backend does not exist
  failed: 7, // the backend turned Failed (or was deleted) while waiting for it
  timeout: 8, // --timeout passed while waiting
  rejected: 9, // the API server refused the object (validation, already exists)
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class CliError extends Error {
  readonly exitCode: ExitCode;
  readonly hint?: string;
  constructor(exitCode: ExitCode, message: string, hint?: string) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
    this.hint = hint;
  }
}

export class UsageError extends CliError {
  readonly command?: string;
  constructor(message: string, command?: string) {
    super(EXIT.usage, message, `run 'spawner ${command ? `${command} ` : ''}--help' for usage`);
    this.command = command;
  }
}

// What the user sees on stderr: one line saying what went wrong, then how to go on.
export function renderError(err: CliError): string {
  return `error: ${err.message}\n${err.hint ? `${err.hint}\n` : ''}`;
}
