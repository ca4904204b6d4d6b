/**
 * A promise raced against a bound: the building block of every bounded wait of the SDK (a call's
 * attempt, a hello, a probe of the other nodes).
 *
 * Runs on: any thread of a client process.
 */
import type { ProtocolError } from './errors.js';

/** `promise`, or what `onExpiry` gives when `boundMs` passes first: undefined (the caller decides)
 *  or an error to reject with. The promise's own later outcome is then ignored. */
export function withinBound<T>(promise: Promise<T>, boundMs: number, onExpiry: () => ProtocolError): Promise<T>;
export function withinBound<T>(promise: Promise<T>, boundMs: number, onExpiry: () => undefined): Promise<T | undefined>;
export function withinBound<T>(promise: Promise<T>, boundMs: number, onExpiry: () => ProtocolError | undefined): Promise<T | undefined> {
  return new Promise<T | undefined>((resolve, reject) => {
    const timer = setTimeout(() => {
      const error = onExpiry();
      if (error === undefined) resolve(undefined);
      else reject(error);
    }, boundMs);
    promise.then((value) => {
      clearTimeout(timer);
      resolve(value);
    }, (error: unknown) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}
