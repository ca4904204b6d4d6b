/**
 * Checks of a decoded value's shape (types, safe integers, byte arrays, the fields a message type
 * declares), composed into one check per message type. The three checkers of bytes that cross a
 * thread or a socket are built from these: Raft messages from peers (raft/message-validation.ts),
 * snapshot stream messages (replication/snapshot-stream-messages.ts) and the WAL link
 * (protocol/wal-validation.ts), with the log's own shapes in log-shapes.ts.
 *
 * A check returns what is wrong, as a path and a phrase (`.entries[3].term is not a safe integer
 * ≥ 0`), or undefined when the value is of the kind. The path is written only on failure, so a
 * well-formed value costs no allocation: these run on every peer frame and every message of the
 * WAL link, entries included.
 *
 * Invariant: a `fields` check built from a `FieldChecks<Value>` (or `MessageChecks<Message>`) table
 * has a check for every field the type declares (the compiler refuses a table that misses one).
 *
 * Runs on: every thread (pure).
 */

/** What is wrong with a value, or undefined when it is of the kind. */
export type ShapeCheck = (value: unknown) => string | undefined;

type ShapeFields = Readonly<Record<string, unknown>>;

/** One check per field of `Value`, optional fields included. */
export type FieldChecks<Value> = { readonly [Field in keyof Value]-?: ShapeCheck };

/** One check per field of `Message` except the `type` that selected the table. */
export type MessageChecks<Message> = Omit<FieldChecks<Message>, 'type'>;

export function isMap(value: unknown): value is ShapeFields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export const safeInteger: ShapeCheck = (value) =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? undefined : 'is not a safe integer ≥ 0';

export const finiteNumber: ShapeCheck = (value) =>
  typeof value === 'number' && Number.isFinite(value) ? undefined : 'is not a finite number';

export const positiveSafeInteger: ShapeCheck = (value) =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 1 ? undefined : 'is not a safe integer ≥ 1';

/** Any safe integer, negative ones included (request ids). */
export const signedSafeInteger: ShapeCheck = (value) =>
  typeof value === 'number' && Number.isSafeInteger(value) ? undefined : 'is not a safe integer';

/** An integer from `minimum` to `maximum`; the failure shows the number given (or its type). */
export function integerFrom(minimum: number, maximum: number): ShapeCheck {
  return (value) => (typeof value === 'number' && Number.isSafeInteger(value) && value >= minimum && value <= maximum
    ? undefined : `is not an integer from ${minimum} to ${maximum} (got ${typeof value === 'number' ? value : typeof value})`);
}

export const text: ShapeCheck = (value) => (typeof value === 'string' ? undefined : 'is not a string');

/** A string of `bytesMin` to `bytesMax` bytes in UTF-8 (the measure the WAL's files store and
 *  assert), named `what` in the problem. */
export function textOfUtf8Bytes(bytesMin: number, bytesMax: number, what: string): ShapeCheck {
  const phrase = `is not ${what}`;
  return (value) => {
    if (typeof value !== 'string') return phrase;
    const bytes = Buffer.byteLength(value, 'utf8');
    return bytes >= bytesMin && bytes <= bytesMax ? undefined : phrase;
  };
}

export const boolean: ShapeCheck = (value) => (typeof value === 'boolean' ? undefined : 'is not a boolean');

export const bytes: ShapeCheck = (value) => (value instanceof Uint8Array ? undefined : 'is not a byte array');

/** Byte arrays of at most `bytesMax` bytes. */
export function bytesUpTo(bytesMax: number): ShapeCheck {
  return (value) => {
    if (!(value instanceof Uint8Array)) return 'is not a byte array';
    return value.byteLength <= bytesMax ? undefined : `holds ${value.byteLength} bytes, above ${bytesMax}`;
  };
}

export function oneOf(...values: readonly string[]): ShapeCheck {
  const phrase = `is none of ${values.map((value) => `'${value}'`).join(', ')}`;
  return (value) => (typeof value === 'string' && values.includes(value) ? undefined : phrase);
}

/** Absent (or undefined), or of the kind. */
export function optional(check: ShapeCheck): ShapeCheck {
  return (value) => (value === undefined ? undefined : check(value));
}

export function orNull(check: ShapeCheck): ShapeCheck {
  return (value) => (value === null ? undefined : check(value));
}

/** A nested problem follows its path directly (`.term`, `[3]`); a phrase follows a space. */
export function joined(problem: string): string {
  return problem.startsWith('.') || problem.startsWith('[') ? problem : ` ${problem}`;
}

/** A map whose listed fields pass their checks; a problem names the field (`.term is not …`). */
export function fields(checks: Readonly<Record<string, ShapeCheck>>): ShapeCheck {
  const pairs = Object.entries(checks);
  return (value) => {
    if (!isMap(value)) return 'is not a map';
    for (const [field, check] of pairs) {
      const problem = check(value[field]);
      if (problem !== undefined) return `.${field}${joined(problem)}`;
    }
    return undefined;
  };
}

/** An array of at most `lengthMax` elements, each passing `check`; a problem names the position. */
export function arrayOf(check: ShapeCheck, lengthMax = Number.POSITIVE_INFINITY): ShapeCheck {
  return (value) => {
    if (!Array.isArray(value)) return 'is not an array';
    if (value.length > lengthMax) return `holds more than ${lengthMax} elements`;
    for (let at = 0; at < value.length; at += 1) {
      const problem = check(value[at]);
      if (problem !== undefined) return `[${at}]${joined(problem)}`;
    }
    return undefined;
  };
}

/** A table of message types and their fields, as one map check per type. */
export type CompiledTable = ReadonlyMap<string, ShapeCheck>;

/** The table as one map check per type, built once (every checker of messages starts here). */
export function compile(table: Readonly<Record<string, Readonly<Record<string, ShapeCheck>>>>): CompiledTable {
  return new Map(Object.entries(table).map(([type, checks]) => [type, fields(checks)]));
}

/** A problem as a person reads it: a top-level field without its leading dot (`term is not …`). */
export function readableProblem(problem: string): string {
  return problem.startsWith('.') ? problem.slice(1) : problem;
}

/** `value` as the type a check just accepted it as: the one cast of a checker, made after its
 *  table check passed (the table is typed per field, so it covers every field the type declares). */
export function asChecked<Checked>(value: unknown): Checked {
  return value as Checked;
}
