/**
 * How the WAL engine's file-system errors become operating errors with a stable code (the engine
 * answers an `Outcome<T>`, errors.ts, never a thrown exception for an operating condition).
 *
 * - ENOSPC / EDQUOT → DISK_FULL: not fatal; the failed batch is dropped, durable data stays.
 * - anything else from the file system → IO_ERROR: fatal; the engine refuses every later call.
 * - a record that fails its checksum when read back → CORRUPTION: fatal as well.
 *
 * Runs on: WAL writer thread.
 */
import { falconError, type FalconError } from '../errors.js';
import { errnoOf, syscallOf } from './file-system.js';

/** True for the errno names that mean "no space left". */
export function isDiskFullErrno(errno: string | undefined): boolean {
  return errno === 'ENOSPC' || errno === 'EDQUOT';
}

/**
 * True when the engine may go on after `error`: a full disk reported by a write or a file
 * creation. A failed fsync is never survivable, whatever its errno: after it the kernel may have
 * dropped the dirty pages and cleared the error, so nothing written since the last good fsync can
 * be trusted, and a retried fsync could report success for data that is gone.
 */
export function isSurvivable(error: unknown): boolean {
  const syscall = syscallOf(error);
  return isDiskFullErrno(errnoOf(error)) && syscall !== 'fsync' && syscall !== 'fdatasync';
}

/** The operating error for a failed fs call: DISK_FULL or IO_ERROR, naming the call and file. */
export function fileSystemError(operation: string, filePath: string, cause: unknown): FalconError {
  const errno = errnoOf(cause) ?? 'UNKNOWN';
  const reason = cause instanceof Error ? cause.message : String(cause);
  if (isSurvivable(cause)) {
    return falconError('DISK_FULL', `disk full: ${operation} of ${filePath} failed (${errno}); new writes are refused until space is freed`,
      { operation, file: filePath, errno });
  }
  return falconError('IO_ERROR', `${operation} of ${filePath} failed (${errno}: ${reason}); the WAL stops`,
    { operation, file: filePath, errno });
}
