/**
 * Reading a range of entries for a follower that is catching up: recent entries from the tail
 * cache (copies, no disk), older ones from disk in reads of at most `readBytesMax`, the whole
 * answer cut before `bytesMax` of records (but never empty), so one read never blocks the WAL
 * thread's appends for long.
 *
 * Runs on: WAL writer thread.
 */
import type { LogEntry } from '../log/log-entry.js';
import type { SegmentLog } from './segment-log.js';
import type { TailCache } from './tail-cache.js';
import { recordBytesFor } from './wal-record.js';

/** Entries `fromIndex`..`toIndex` (both held by the log), cut before `bytesMax` (at least one). */
export function readRange(
  cache: TailCache, segmentLog: SegmentLog, fromIndex: number, toIndex: number, bytesMax: number, readBytesMax: number,
): LogEntry[] {
  const entries: LogEntry[] = [];
  let bytes = 0;
  for (let index = fromIndex; index <= toIndex;) {
    if (cache.has(index)) {
      const recordBytes = cache.recordBytesAt(index);
      if (entries.length > 0 && bytes + recordBytes > bytesMax) break;
      entries.push(cache.entryAt(index));
      bytes += recordBytes;
      index += 1;
      continue;
    }
    // Entries not in the cache are all older than it: read from disk up to where the cache starts.
    const runEnd = cache.entries > 0 && cache.firstIndex > index ? Math.min(toIndex, cache.firstIndex - 1) : toIndex;
    const budget = Math.min(bytesMax - bytes, readBytesMax);
    const chunk = segmentLog.readFromDisk(index, runEnd, budget, entries.length === 0);
    if (chunk.length === 0) break;
    for (const entry of chunk) {
      entries.push(entry);
      bytes += recordBytesFor(entry.data.length);
    }
    index += chunk.length;
  }
  return entries;
}
