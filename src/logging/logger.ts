/**
 * Structured logs for every thread of a node.
 *
 * One JSON object per line (pino) when the output is read by a program; human-readable lines
 * (pino-pretty, written synchronously on the same thread, no extra logging thread) when a person
 * reads it. `auto` picks pretty on a TTY. The multi-node launcher passes the choice it made to
 * its children with --log-format, because their stdout is a pipe even when the person's
 * terminal is a TTY.
 *
 * Runs on: every thread.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino';
import { PinoPretty } from 'pino-pretty';

export type LogFormat = 'auto' | 'pretty' | 'json';
export const logFormats: readonly LogFormat[] = ['auto', 'pretty', 'json'];

export interface LoggerOptions {
  readonly level: LevelWithSilent;
  readonly format: LogFormat;
  /** Bound fields on every line, e.g. { node: 'n1', actor: 'walWriter' }. */
  readonly bindings?: Readonly<Record<string, string | number>>;
}

/** Resolves `auto` against the environment and whether stdout is a terminal. */
export function resolveLogFormat(format: LogFormat): 'pretty' | 'json' {
  if (format !== 'auto') return format;
  return process.stdout.isTTY === true ? 'pretty' : 'json';
}

export function createLogger(options: LoggerOptions): Logger {
  const format = resolveLogFormat(options.format);
  const base = { pid: process.pid, ...(options.bindings ?? {}) };
  if (format === 'json') {
    return pino({ level: options.level, base }, pino.destination({ dest: 1, sync: true }));
  }
  const pretty = PinoPretty({
    colorize: process.stdout.isTTY === true,
    sync: true,
    translateTime: 'HH:MM:ss.l',
    ignore: 'pid,hostname',
    messageFormat: '{if actor}[{actor}] {end}{msg}',
    hideObject: false,
  });
  return pino({ level: options.level, base }, pretty);
}

export type { Logger };
