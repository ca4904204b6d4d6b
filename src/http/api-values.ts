/**
 * Payloads and results between JSON and the protocol's bytes.
 *
 * In: a JSON payload is stored as its JSON text (`application/json`); a JSON result as its
 * MessagePack encoding, as the SDK's workers store a handler's value (a result has no content
 * type, so every writer keeps to MessagePack); `payloadBase64` / `resultBase64` carry raw bytes.
 * Out: a payload whose content type is JSON or MessagePack comes back as a JSON value (`payload`)
 * when its bytes decode to one, otherwise as `payloadBase64`. A result comes back as `result` when
 * its bytes are one MessagePack value that is a JSON value, otherwise as `resultBase64` (so bytes
 * that merely look like JSON text stay bytes, as the SDK's `get` reads them).
 *
 * A decoded value counts as JSON when it is null, a boolean, a finite number, a string, or an
 * array or plain object of those, nested at most `jsonDepthMax` deep (so writing it out can
 * neither fail nor recurse without bound).
 *
 * Runs on: supervisor (main thread), under the ops port.
 */
import { decode, encode } from '../codec/msgpack.js';
import type { ContentType } from '../queue/commands.js';

/** Nesting a value read back may have to come back as JSON; deeper values come back as base64. */
const jsonDepthMax = 256;

/** The JSON text of `value` as bytes, or undefined when it cannot be written (too deep to stringify). */
export function jsonBytes(value: unknown): Buffer | undefined {
  try {
    const text = JSON.stringify(value);
    return text === undefined ? undefined : Buffer.from(text, 'utf8');
  } catch {
    return undefined;
  }
}

/** The MessagePack encoding of a JSON value, or undefined when it cannot be written (too deep). */
export function messagePackBytes(value: unknown): Buffer | undefined {
  if (!isJsonValue(value, 0)) return undefined;
  try {
    return encode(value);
  } catch {
    return undefined;
  }
}

/** Strict base64 (standard alphabet, padding optional) to bytes; undefined when it is not base64. */
export function base64Bytes(text: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 === 1) return undefined;
  return Buffer.from(text, 'base64');
}

/** `{ payload }` or `{ payloadBase64 }` for a job's bytes of `contentType`. */
export function payloadView(payload: Uint8Array, contentType: ContentType): { payload: unknown } | { payloadBase64: string } {
  const value = contentType === 'application/json' ? fromJsonText(payload) : contentType === 'application/msgpack' ? fromMessagePack(payload) : undefined;
  return value === undefined ? { payloadBase64: Buffer.from(payload).toString('base64') } : { payload: value.value };
}

/** `{ result }` or `{ resultBase64 }` for an ack's result bytes. */
export function resultView(result: Uint8Array): { result: unknown } | { resultBase64: string } {
  const value = fromMessagePack(result);
  return value === undefined ? { resultBase64: Buffer.from(result).toString('base64') } : { result: value.value };
}

/** Wrapped so that a decoded `null` is told apart from "not decodable". */
interface Decoded {
  readonly value: unknown;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function fromJsonText(bytes: Uint8Array): Decoded | undefined {
  try {
    const value: unknown = JSON.parse(utf8.decode(bytes));
    return isJsonValue(value, 0) ? { value } : undefined;
  } catch {
    return undefined;
  }
}

function fromMessagePack(bytes: Uint8Array): Decoded | undefined {
  if (bytes.byteLength === 0) return undefined;
  try {
    const value = decode(bytes);
    return isJsonValue(value, 0) ? { value } : undefined;
  } catch {
    return undefined;
  }
}

function isJsonValue(value: unknown, depth: number): boolean {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (typeof value !== 'object' || depth >= jsonDepthMax) return false;
  if (Array.isArray(value)) return value.every((item) => isJsonValue(item, depth + 1));
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return false;
  return Object.values(value).every((item) => isJsonValue(item, depth + 1));
}
