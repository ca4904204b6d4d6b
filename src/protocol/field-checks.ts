/**
 * The building blocks of every ring link's checker (wal-validation.ts, control-validation.ts):
 * a `FieldCheck` says what is wrong with a value, or nothing when it is of its kind, and the
 * combinators below build a message's check from its fields' checks.
 *
 * Invariant: a check allocates nothing for a well-formed value: a field's name and the problem
 * are written only on failure, since these run on every message of the WAL link, entries
 * included.
 *
 * Runs on: every thread that receives from a ring.
 */
import { falconError, type FalconError } from '../errors.js';

export type Fields = Readonly<Record<string, unknown>>;
/**
 * What is wrong with `value` (`is not a string`, `[3].term is not …`), or undefined when it is of
 * the kind.
 */
export type FieldCheck = (value: unknown) => string | undefined;

export const safeInteger: FieldCheck = (value) =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? undefined : 'is not a safe integer ≥ 0';
export const finiteNumber: FieldCheck = (value) =>
  typeof value === 'number' && Number.isFinite(value) && value >= 0 ? undefined : 'is not a finite number ≥ 0';
export const text: FieldCheck = (value) => (typeof value === 'string' ? undefined : 'is not a string');
export const flag: FieldCheck = (value) => (typeof value === 'boolean' ? undefined : 'is not a boolean');
export const bytes: FieldCheck = (value) => (value instanceof Uint8Array ? undefined : 'is not a byte array');
export const optional = (check: FieldCheck): FieldCheck => (value) => (value === undefined ? undefined : check(value));
export const orNull = (check: FieldCheck): FieldCheck => (value) => (value === null ? undefined : check(value));

/** An integer from `min` to `max`; the failure shows what was given. */
export function integerFrom(min: number, max: number): FieldCheck {
  return (value) => (typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max
    ? undefined : `is not an integer from ${min} to ${max} (got ${String(value)})`);
}

/** One of the given strings. */
export function oneOf(choices: readonly string[]): FieldCheck {
  return (value) => (typeof value === 'string' && choices.includes(value) ? undefined : `is not one of ${choices.join(', ')}`);
}

export function isFields(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A nested problem follows its path directly (`.term`, `[3]`); a phrase follows a space. */
export function joined(problem: string): string {
  return problem.startsWith('.') || problem.startsWith('[') ? problem : ` ${problem}`;
}

/** A check of a map with the given fields; a problem names the field (`.term is not …`). */
export function fields(checks: Readonly<Record<string, FieldCheck>>): FieldCheck {
  const pairs = Object.entries(checks);
  return (value) => {
    if (!isFields(value)) return 'is not a map';
    for (const [field, check] of pairs) {
      const problem = check(value[field]);
      if (problem !== undefined) return `.${field}${joined(problem)}`;
    }
    return undefined;
  };
}

/** A check of an array whose every element passes `check`; a problem names the position. */
export function arrayOf(check: FieldCheck): FieldCheck {
  return (value) => {
    if (!Array.isArray(value)) return 'is not an array';
    for (let at = 0; at < value.length; at += 1) {
      const problem = check(value[at]);
      if (problem !== undefined) return `[${at}]${joined(problem)}`;
    }
    return undefined;
  };
}

/** A table of message types and their fields, as one map check per type. */
export type CompiledTable = ReadonlyMap<string, FieldCheck>;

/** The table as one map check per type, built once. */
export function compile(table: Readonly<Record<string, Readonly<Record<string, FieldCheck>>>>): CompiledTable {
  return new Map(Object.entries(table).map(([type, checks]) => [type, fields(checks)]));
}

/**
 * `value` as a message of `table` (its `type` picks its fields), or INTERNAL naming the direction,
 * the type and the field. The one cast from `unknown` of a link: every field `Message` declares
 * for that type was checked by the table, which the caller types by `Message['type']`.
 */
export function checkMessage<Message>(value: unknown, direction: string, table: CompiledTable): Message | FalconError {
  if (!isFields(value)) return falconError('INTERNAL', `malformed ${direction} message: it is not a map`);
  const type = value['type'];
  const checkFields = typeof type === 'string' ? table.get(type) : undefined;
  if (checkFields === undefined) return falconError('INTERNAL', `malformed ${direction} message: type ${String(type)} is not a ${direction} message type`);
  const problem = checkFields(value);
  if (problem !== undefined) return falconError('INTERNAL', `malformed ${direction} message: ${type}${problem}`);
  return value as Message;
}
