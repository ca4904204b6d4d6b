/**
 * The one error a bad configuration produces.
 *
 * Its message is ONE line a person can act on, `<file>:<line>: <field>: <what is wrong>`, with
 * the line present when it is known and the field present when one is to blame. The parts are
 * also kept as properties, so that a caller (or a test) need not parse the message.
 *
 * Runs on: supervisor (main thread) at start-up, and the CLIs.
 */

import { falconError, type FalconError } from '../errors.js';

/** The process exit code for a refused configuration (the CLIs exit with it). */
export const configErrorExitCode = 2;

export interface ConfigErrorParts {
  /** The file name as given, or the name passed with the text. */
  readonly source: string;
  /** 1-based line in the file, when the parser could place the problem. */
  readonly line?: number | undefined;
  /** The dotted path of the field to blame (`nodes[1].peerPort`); absent when the file is. */
  readonly field?: string | undefined;
  /** What is wrong, one line, without the location. */
  readonly problem: string;
  /** The whole message, when `<file>:<line>: <field>: <problem>` is not the right shape. */
  readonly message?: string;
}

function locatedMessage(parts: ConfigErrorParts): string {
  const where = parts.line === undefined ? parts.source : `${parts.source}:${parts.line}`;
  return parts.field === undefined ? `${where}: ${parts.problem}` : `${where}: ${parts.field}: ${parts.problem}`;
}

export class ConfigError extends Error {
  readonly source: string;
  readonly line: number | undefined;
  readonly field: string | undefined;
  readonly problem: string;
  readonly code = 'CONFIG_INVALID' as const;

  constructor(parts: ConfigErrorParts) {
    super(parts.message ?? locatedMessage(parts));
    this.name = 'ConfigError';
    this.source = parts.source;
    this.line = parts.line;
    this.field = parts.field;
    this.problem = parts.problem;
  }

  /** The same error as a value, for logs, /status and anything that crosses a thread. */
  toFalconError(): FalconError {
    const detail: Record<string, string | number> = { source: this.source };
    if (this.line !== undefined) detail['line'] = this.line;
    if (this.field !== undefined) detail['field'] = this.field;
    return falconError('CONFIG_INVALID', this.message, detail);
  }
}
