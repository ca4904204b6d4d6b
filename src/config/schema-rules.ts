/**
 * The building blocks of the cluster.yaml schema: leaf rules that write their own message
 * (`expected an integer from 1 to 65535, got "71O2"`), strict mappings, sections that may be left
 * out, and rules between two fields. Every schema file of src/config/ builds from these, so that
 * zod's own wording never reaches a user.
 *
 * Runs on: supervisor (main thread) at start-up, and the CLIs. Pure data, no I/O.
 */

import { isIP } from 'node:net';
import { z } from 'zod';
import { describeValue } from './describe-value.js';

/** The message for a value that breaks a field's rule, written from the zod issue. */
export function ruleMessage(rule: string): (issue: { readonly input?: unknown }) => string {
  return (issue) =>
    issue.input === undefined ? `missing; expected ${rule}` : `expected ${rule}, got ${describeValue(issue.input)}`;
}

export function integerInRange(minimum: number, maximum: number): z.ZodNumber {
  return z.number({ error: ruleMessage(`an integer from ${minimum} to ${maximum}`) }).int().min(minimum).max(maximum);
}

/** Counts, sizes and durations: whole and at least 1 (a zero timeout or bound means a bug). */
export function positiveInteger(): z.ZodNumber {
  return z.number({ error: ruleMessage('a positive integer') }).int().min(1);
}

/** Values where zero is meaningful: "no jitter", "never restart", "send at once". */
export function nonNegativeInteger(): z.ZodNumber {
  return z.number({ error: ruleMessage('an integer >= 0') }).int().min(0);
}

export function booleanFlag(): z.ZodBoolean {
  return z.boolean({ error: ruleMessage('true or false') });
}

export function oneOf<const Values extends readonly [string, ...string[]]>(values: Values): z.ZodEnum<{ [K in Values[number]]: K }> {
  const listed = values.map((value) => `'${value}'`).join(', ');
  return z.enum(values, { error: ruleMessage(`one of ${listed}`) });
}

export function isPowerOfTwo(value: number): boolean {
  return Number.isSafeInteger(value) && value > 0 && 2 ** Math.round(Math.log2(value)) === value;
}

/** A host peers and clients can connect to: an IP address or a DNS name, never a wildcard. */
export function isConnectableHost(value: string): boolean {
  if (value === '0.0.0.0' || value === '::') return false;
  if (isIP(value) !== 0) return true;
  return value.length <= 253 && /^[a-z0-9]([a-z0-9-]{0,62})(\.[a-z0-9]([a-z0-9-]{0,62}))*$/i.test(value);
}

/** A rule between two fields, reported on `path`; `relatedPath` is where to point instead when
 *  `path` was left at its default and only the other field was written in the file. The message
 *  names both fields, so it reads right on either. */
export function addRelationIssue(
  context: z.RefinementCtx,
  path: readonly (string | number)[],
  relatedPath: readonly (string | number)[],
  message: string,
): void {
  context.addIssue({
    code: 'custom', path: [...path], message,
    params: { relatedPath: [...relatedPath], declaredPathLength: path.length },
  });
}

/** A section may be absent (all defaults) or written with every line commented out (YAML null). */
export function section<Shape extends z.ZodType<object>>(fields: Shape) {
  // Every field of a section has a default, so `{}` is a valid input; the cast only tells the
  // compiler what the schema itself checks when it parses the prefault.
  return z.preprocess((value) => (value === null ? undefined : value), fields.prefault({} as z.input<Shape>));
}

export function mapping<Shape extends z.core.$ZodLooseShape>(shape: Shape, what: string) {
  return z.strictObject(shape, { error: ruleMessage(`a mapping of ${what}`) });
}

/** An address a node may listen on: one it could be reached at, or a wildcard (every interface). */
export function isListenHost(value: string): boolean {
  return value === '0.0.0.0' || value === '::' || isConnectableHost(value);
}
