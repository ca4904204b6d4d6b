/**
 * Parsers of the `falcon` command line's values: integers, job ids, durations (`1500`, `1500ms`,
 * `30s`, `5m`, `2h`), retry backoffs (`exponential:1000:60000`, `fixed:500`) and address lists
 * (`host:port,host:port`). Each throws a usage failure (exit 2) naming the option and the rule;
 * the protocol's own bounds (priority range, attempts, ...) are left to the SDK, which refuses
 * with the protocol's error (exit 5), so that the CLI and the SDK never disagree on a bound.
 *
 * Runs on: an operator's shell (the falcon and falcon-worker processes).
 */
import type { Backoff, NodeAddress } from '../client/index.js';
import { usageFailure } from './cli-failure.js';

/** A whole decimal number (optionally negative); `name` is the option as the user wrote it. */
export function parseInteger(text: string, name: string, min = Number.MIN_SAFE_INTEGER): number {
  const value = /^-?\d+$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min) {
    throw usageFailure(`${name} must be a whole number${min === Number.MIN_SAFE_INTEGER ? '' : ` of at least ${min}`}, got '${text}'`, name);
  }
  return value;
}

/** A job id: a positive whole number. */
export function parseJobId(text: string): number {
  return parseInteger(text, 'id', 1);
}

const msPerUnit: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds from `1500`, `1500ms`, `30s`, `1.5s`, `5m` or `2h`. */
export function parseDurationMs(text: string, name: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  const value = match === null ? Number.NaN : Number(match[1]) * (msPerUnit[match[2] ?? 'ms'] ?? Number.NaN);
  if (!Number.isFinite(value) || !Number.isSafeInteger(Math.round(value))) {
    throw usageFailure(`${name} must be a duration such as 1500, 1500ms, 30s, 5m or 2h, got '${text}'`, name);
  }
  return Math.round(value);
}

/**
 * A backoff from `kind:delay[:delayMax[:jitterRatio]]`: `fixed:500`, `exponential:1000:60000`,
 * `exponential:1s:5m:0.2`. Delays take the units of parseDurationMs.
 */
export function parseBackoff(text: string): Backoff {
  const [kind, delay, delayMax, jitter, ...rest] = text.split(':');
  const rule = "--backoff must be fixed:DELAY or exponential:DELAY[:MAX[:JITTER]] (e.g. fixed:500, exponential:1000:60000)";
  if ((kind !== 'fixed' && kind !== 'exponential') || delay === undefined || rest.length > 0) throw usageFailure(`${rule}, got '${text}'`, '--backoff');
  const backoff: { kind: Backoff['kind']; delayMs: number; delayMsMax?: number; jitterRatio?: number } = { kind, delayMs: parseDurationMs(delay, '--backoff delay') };
  if (delayMax !== undefined && delayMax !== '') backoff.delayMsMax = parseDurationMs(delayMax, '--backoff max');
  if (jitter !== undefined) {
    const ratio = Number(jitter);
    if (jitter.trim() === '' || !(ratio >= 0 && ratio <= 1)) throw usageFailure(`--backoff jitter must be a number from 0 to 1, got '${jitter}'`, '--backoff');
    backoff.jitterRatio = ratio;
  }
  return backoff;
}

/** `host:port,host:port,...` (IPv6 as `[::1]:7201`); `name` is the option. */
export function parseAddressList(text: string, name: string): NodeAddress[] {
  const parts = text.split(',').map((part) => part.trim()).filter((part) => part !== '');
  if (parts.length === 0) throw usageFailure(`${name} must list at least one host:port`, name);
  return parts.map((part) => {
    const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(part);
    const port = Number(match?.[3]);
    if (match === null || port < 1 || port > 65_535) throw usageFailure(`${name}: '${part}' is not host:port with a port from 1 to 65535`, name);
    return { host: match[1] ?? match[2] ?? '', port };
  });
}

/** `host:port` of an address, IPv6 in brackets. */
export function addressText(address: NodeAddress): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
