/**
 * Reads the fields of one JSON request body against their rules, keeping the first problem as a
 * 400 that names the field as the client wrote it. A field may have other names it is also
 * accepted under (the seed's `nodeId` for `workerId`); giving two names of one field is a
 * problem, and so is a field the route does not know (a misspelt optional field would otherwise
 * be dropped without a word), with a suggestion when one is near.
 *
 * Use: read every field, then check `problem` before using any value (a field with a problem
 * reads as undefined).
 *
 * Runs on: supervisor (main thread), under the ops port. Pure, no I/O.
 */
import { nearestKey } from '../config/nearest-key.js';
import { apiError, type ApiError } from './api-exchange.js';

/** Characters of an unknown field's name an answer repeats: enough to recognise it, bounded whatever the body held. */
const shownKeyCharsMax = 128;

/** A field's name and the other names it is accepted under. */
export type FieldNames = string | readonly [string, ...string[]];

export class FieldReader {
  private readonly body: Readonly<Record<string, unknown>>;
  private readonly known = new Set<string>();
  private first: ApiError | undefined;

  private constructor(body: Readonly<Record<string, unknown>>) {
    this.body = body;
  }

  /** A reader of `body`, or a 400 when the body is not a JSON object. */
  static of(body: unknown): FieldReader | ApiError {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      return apiError(400, 'INVALID_ARGUMENT', 'the request body must be a JSON object');
    }
    return new FieldReader(body as Record<string, unknown>);
  }

  /** The first problem met, with unknown fields counted once every field was read. */
  get problem(): ApiError | undefined {
    if (this.first !== undefined) return this.first;
    const unknown = Object.keys(this.body).find((key) => !this.known.has(key));
    if (unknown === undefined) return undefined;
    const near = nearestKey(unknown, [...this.known]);
    const hint = near === undefined ? `known fields: ${[...this.known].join(', ')}` : `did you mean "${near}"?`;
    const shown = unknown.length > shownKeyCharsMax ? `${unknown.slice(0, shownKeyCharsMax)}…` : unknown;
    return apiError(400, 'INVALID_ARGUMENT', `unknown field "${shown}"; ${hint}`, shown);
  }

  /** Records a problem with `field` unless an earlier one is kept. */
  fail(field: string, rule: string, status = 400, code = 'INVALID_ARGUMENT'): undefined {
    this.first ??= apiError(status, code, `${field} ${rule}`, field);
    return undefined;
  }

  /** The field's value under whichever of its names was given, and that name. */
  value(names: FieldNames): { readonly name: string; readonly value: unknown } | undefined {
    const all = typeof names === 'string' ? [names] : names;
    for (const name of all) this.known.add(name);
    const given = all.filter((name) => this.body[name] !== undefined);
    if (given.length > 1) return this.fail(given[0] as string, `and ${given.slice(1).join(', ')} name the same field: give one`);
    const name = given[0];
    return name === undefined ? undefined : { name, value: this.body[name] };
  }

  /** Marks `name` as known without reading it (a field accepted and ignored). */
  accept(name: string, rule: (value: unknown) => boolean, ruleText: string): void {
    const found = this.value(name);
    if (found !== undefined && !rule(found.value)) this.fail(found.name, ruleText);
  }

  /** `value`, or a problem "is required" when it is undefined (and no earlier problem is kept). */
  need<T>(value: T | undefined, name: string): T | undefined {
    return value === undefined ? this.fail(name, 'is required') : value;
  }

  integer(names: FieldNames, min: number, max: number): number | undefined {
    const found = this.value(names);
    if (found === undefined) return undefined;
    if (typeof found.value === 'number' && Number.isSafeInteger(found.value) && found.value >= min && found.value <= max) return found.value;
    return this.fail(found.name, `must be an integer from ${min} to ${max}`);
  }

  number(names: FieldNames, min: number, max: number): number | undefined {
    const found = this.value(names);
    if (found === undefined) return undefined;
    if (typeof found.value === 'number' && found.value >= min && found.value <= max) return found.value;
    return this.fail(found.name, `must be a number from ${min} to ${max}`);
  }

  boolean(names: FieldNames): boolean | undefined {
    const found = this.value(names);
    if (found === undefined) return undefined;
    return typeof found.value === 'boolean' ? found.value : this.fail(found.name, 'must be true or false');
  }

  /** A string of at most `bytesMax` UTF-8 bytes; `printable`: at least one byte and no control characters. */
  string(names: FieldNames, bytesMax: number, printable = true): string | undefined {
    const found = this.value(names);
    if (found === undefined) return undefined;
    return isString(found.value, bytesMax, printable) ? found.value : this.fail(found.name, describeString(bytesMax, printable));
  }

  oneOf<const Values extends readonly string[]>(names: FieldNames, values: Values): Values[number] | undefined {
    const found = this.value(names);
    if (found === undefined) return undefined;
    const match = values.find((value) => value === found.value);
    return match ?? this.fail(found.name, `must be one of ${values.map((value) => `"${value}"`).join(', ')}`);
  }

  /** An array of at most `itemsMax` strings, each as `string` reads them. */
  strings(names: FieldNames, itemsMax: number, bytesMax: number): string[] | undefined {
    const found = this.value(names);
    if (found === undefined) return undefined;
    if (!Array.isArray(found.value) || found.value.length > itemsMax) return this.fail(found.name, `must be an array of at most ${itemsMax} strings`);
    const items: unknown[] = found.value;
    const bad = items.findIndex((item) => !isString(item, bytesMax, true));
    if (bad >= 0) return this.fail(`${found.name}[${bad}]`, describeString(bytesMax, true));
    return items as string[];
  }

  /** A nested object, read by `read` with its own reader; problems name `outer.inner`. */
  object<T>(names: FieldNames, read: (inner: FieldReader) => T | undefined): T | undefined {
    const found = this.value(names);
    if (found === undefined) return undefined;
    const inner = FieldReader.of(found.value);
    if (!(inner instanceof FieldReader)) return this.fail(found.name, 'must be a JSON object');
    const value = read(inner);
    const problem = inner.problem;
    if (problem === undefined) return value;
    this.first ??= apiError(problem.status, problem.code, `in ${found.name}: ${problem.message}`, problem.field === undefined ? found.name : `${found.name}.${problem.field}`);
    return undefined;
  }
}

export function isString(value: unknown, bytesMax: number, printable: boolean): value is string {
  if (typeof value !== 'string') return false;
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > bytesMax) return false;
  return !printable || (bytes >= 1 && !hasControlCharacter(value));
}

function hasControlCharacter(value: string): boolean {
  for (let index = 0; index < value.length; index += 1) {
    const code = value.charCodeAt(index);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

function describeString(bytesMax: number, printable: boolean): string {
  return printable ? `must be a string of 1 to ${bytesMax} UTF-8 bytes without control characters` : `must be a string of at most ${bytesMax} UTF-8 bytes`;
}
