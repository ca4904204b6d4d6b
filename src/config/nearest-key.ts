/**
 * Suggests the known key a misspelt one was probably meant to be ("did you mean
 * 'heartbeatIntervalMs'?").
 *
 * Keys are compared without case, `_` or `-` (so `peer_port` finds `peerPort`), by edit
 * distance; a suggestion is made only when the distance is small against the key's length, so
 * that an unrelated key gets no misleading hint.
 *
 * Runs on: supervisor (main thread) at start-up, and the CLIs. Pure, no I/O.
 */

/** Keys longer than this are not compared: no known key is near them, and the cost is quadratic. */
export const comparedKeyCharsMax = 64;

function normalise(key: string): string {
  return key.toLowerCase().replace(/[_-]/g, '');
}

/** Levenshtein distance with one rolling row: O(a·b) time, O(b) memory. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The closest known key, or undefined when none is close enough to be a likely typo. */
export function nearestKey(unknownKey: string, knownKeys: readonly string[]): string | undefined {
  if (unknownKey.length > comparedKeyCharsMax) return undefined;
  const wanted = normalise(unknownKey);
  // Up to a third of the key may differ, but at least 2 edits are always allowed (a swap).
  const distanceMax = Math.max(2, Math.floor(wanted.length / 3));
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const known of knownKeys) {
    const distance = editDistance(wanted, normalise(known));
    if (distance < bestDistance) {
      best = known;
      bestDistance = distance;
    }
  }
  return bestDistance <= distanceMax ? best : undefined;
}
