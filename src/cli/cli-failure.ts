/**
 * The `falcon` CLI's exit codes and how a failure becomes one: a script branches on the code and
 * may read the `code` string of the JSON error object; a person reads the one-line message.
 *
 * Codes (stable; documented in `falcon --help` and docs/cli.md):
 *
 * | exit | meaning                                                                              |
 * |------|--------------------------------------------------------------------------------------|
 * | 0    | done                                                                                 |
 * | 1    | unexpected failure (a bug, or a reply this CLI cannot read)                          |
 * | 2    | bad usage: unknown option, malformed value, unreadable cluster file, missing payload,|
 * |      | a purge neither confirmed nor given `--yes`                                          |
 * | 3    | cluster unreachable, or no leader within the deadline (`--timeout`)                  |
 * | 4    | not found: unknown job, unknown queue                                                |
 * | 5    | refused by the cluster's rules: invalid argument, payload too large, failed          |
 * |      | precondition (e.g. cancel of a leased job), resource exhausted                       |
 * | 6    | unauthenticated or permission denied (token missing, wrong, or its role too weak)    |
 * | 7    | status/watch: the cluster answers, but a node is unreachable, unhealthy or not ready |
 *
 * `CliFailure` is thrown only inside the CLI's one thread, to unwind a command to its edge
 * (falcon.ts), where it becomes a message and an exit code. Nothing here crosses a thread.
 *
 * Runs on: an operator's shell (the falcon process).
 */
import { ProtocolError } from '../client/index.js';
import { ConfigError } from '../config/config-error.js';

export const cliExitCodes = {
  ok: 0,
  unexpected: 1,
  usage: 2,
  unreachable: 3,
  notFound: 4,
  refused: 5,
  accessDenied: 6,
  degraded: 7,
} as const;

export type CliExitCode = (typeof cliExitCodes)[keyof typeof cliExitCodes];

/** The exit-code table as `falcon --help` prints it. */
export const exitCodesHelp = `Exit codes:
  0  done
  1  unexpected failure (a bug, or a reply this CLI cannot read)
  2  bad usage: unknown option, malformed value, unreadable cluster file, no payload,
     a purge neither confirmed nor given --yes
  3  cluster unreachable, or no leader within the deadline (--timeout)
  4  not found: unknown job or queue
  5  refused by the cluster: invalid argument, payload too large, failed precondition
     (e.g. cancel of a leased job), resource exhausted
  6  unauthenticated or permission denied (token missing, wrong, or its role too weak)
  7  status/watch only: the cluster answers, but a node is unreachable, unhealthy or not ready`;

/** A failure a command reports: the exit code, a stable code string, a one-line message. */
export class CliFailure extends Error {
  readonly exitCode: CliExitCode;
  readonly code: string;
  readonly detail: Readonly<Record<string, string | number | boolean>> | undefined;

  constructor(exitCode: CliExitCode, code: string, message: string, detail?: Readonly<Record<string, string | number | boolean>>) {
    super(message);
    this.name = 'CliFailure';
    this.exitCode = exitCode;
    this.code = code;
    this.detail = detail;
  }
}

/** A malformed command line (exit 2); `field` names the option or argument. */
export function usageFailure(message: string, field?: string): CliFailure {
  return new CliFailure(cliExitCodes.usage, 'USAGE', message, field === undefined ? undefined : { field });
}

const exitCodeByProtocolCode: Readonly<Record<string, CliExitCode>> = {
  NOT_FOUND: cliExitCodes.notFound,
  INVALID_ARGUMENT: cliExitCodes.refused,
  PAYLOAD_TOO_LARGE: cliExitCodes.refused,
  FAILED_PRECONDITION: cliExitCodes.refused,
  RESOURCE_EXHAUSTED: cliExitCodes.refused,
  FRAME_TOO_LARGE: cliExitCodes.refused,
  UNAUTHENTICATED: cliExitCodes.accessDenied,
  PERMISSION_DENIED: cliExitCodes.accessDenied,
  DEADLINE_EXCEEDED: cliExitCodes.unreachable,
  UNAVAILABLE: cliExitCodes.unreachable,
  NOT_LEADER: cliExitCodes.unreachable,
};

/** Any failure of a command, as a CliFailure: the SDK's typed errors by their code, a bad cluster file as usage. */
export function cliFailureOf(error: unknown): CliFailure {
  if (error instanceof CliFailure) return error;
  if (error instanceof ConfigError) return new CliFailure(cliExitCodes.usage, error.code, error.message);
  if (error instanceof ProtocolError) {
    const exitCode = exitCodeByProtocolCode[error.code] ?? cliExitCodes.unexpected;
    const message = exitCode === cliExitCodes.unreachable ? `cluster unreachable or without a leader: ${error.message}`
      : error.code === 'UNAUTHENTICATED' ? `${error.message} (give --token TOKEN or set FALCON_TOKEN)` : error.message;
    return new CliFailure(exitCode, error.code, message, error.detail);
  }
  const message = error instanceof Error ? `unexpected error: ${error.stack ?? error.message}` : `unexpected error: ${String(error)}`;
  return new CliFailure(cliExitCodes.unexpected, 'UNEXPECTED', message);
}
