/**
 * Writing snapshot files chunk by chunk, so that no snapshot is ever held whole in memory:
 *
 * - `LocalSnapshotWriter`: a snapshot taken from this node's state machine. The data arrives in
 *   chunks of unknown total; the header (which holds the length and the checksum, see
 *   snapshot-file.ts, version 2) is written last, at offset 0. `finish` fsyncs the temp file,
 *   renames it to `snapshot-<index>.snap` and fsyncs the directory.
 * - `IncomingSnapshot`: a leader's snapshot file, byte for byte, as it arrives from the peer in
 *   chunks at known offsets into `incoming-<index>.snap.tmp`. `verify` fsyncs it and checks it
 *   whole (header, lengths, checksum: end to end from the leader's disk); `install` renames it into
 *   place and fsyncs the directory. Until `install` it is only a temp file: a crash or power loss
 *   leaves a `*.tmp` that recovery deletes, and the previous snapshot stays in force.
 *
 * Invariants: bytes are written only at the end of what is held (no holes); a file is renamed
 * into place only after its fsync; the size bound is checked before every write.
 *
 * Runs on: WAL writer thread.
 */
import path from 'node:path';
import { assert, type FalconError } from '../errors.js';
import type { SnapshotMetadata } from '../log/snapshot.js';
import { removeQuietly, temporaryFileSuffix } from './atomic-file.js';
import { checksumOf } from './checksum.js';
import { writeFully, type WalFileSystem } from './file-system.js';
import { encodeSnapshotHeader, snapshotFileName, snapshotHeaderBytesFor, type SnapshotFileInfo } from './snapshot-file.js';
import { oversizeSnapshotError, verifySnapshotFile } from './snapshot-store.js';

export class LocalSnapshotWriter {
  readonly metadata: SnapshotMetadata;
  private readonly fileSystem: WalFileSystem;
  private readonly dir: string;
  private readonly temporaryPath: string;
  private readonly headerBytes: number;
  private readonly bytesMax: number;
  private fd: number | null;
  private position: number;
  private dataChecksum = 0;

  constructor(fileSystem: WalFileSystem, dir: string, metadata: SnapshotMetadata, bytesMax: number) {
    this.fileSystem = fileSystem;
    this.dir = dir;
    this.metadata = metadata;
    this.bytesMax = bytesMax;
    this.temporaryPath = path.join(dir, snapshotFileName(metadata.index) + temporaryFileSuffix);
    this.headerBytes = snapshotHeaderBytesFor(metadata.membership);
    this.position = this.headerBytes;
    this.fd = fileSystem.open(this.temporaryPath, 'createTruncate');
  }

  /** Bytes of data written so far. */
  get dataBytes(): number {
    return this.position - this.headerBytes;
  }

  /** Appends data; RESOURCE_EXHAUSTED (nothing written) when the file would pass the bound. Throws fs errors. */
  append(bytes: Uint8Array): FalconError | null {
    assert(this.fd !== null, `append to the snapshot at ${this.metadata.index} after it was finished`);
    if (this.position + bytes.byteLength > this.bytesMax) return oversizeSnapshotError(this.metadata.index, this.position + bytes.byteLength, this.bytesMax);
    writeFully(this.fileSystem, this.fd, bytes, 0, bytes.byteLength, this.position);
    this.dataChecksum = checksumOf(bytes, this.dataChecksum);
    this.position += bytes.byteLength;
    return null;
  }

  /** Header, fsync, rename, directory fsync: durable when it returns. Throws fs errors. */
  finish(): SnapshotFileInfo {
    const fd = this.fd;
    assert(fd !== null, `snapshot at ${this.metadata.index} finished twice`);
    const head = encodeSnapshotHeader(this.metadata, this.dataBytes, this.dataChecksum);
    writeFully(this.fileSystem, fd, head, 0, head.length, 0);
    this.fileSystem.fsync(fd);
    this.fd = null;
    this.fileSystem.close(fd);
    this.fileSystem.rename(this.temporaryPath, path.join(this.dir, snapshotFileName(this.metadata.index)));
    this.fileSystem.syncDirectory(this.dir);
    const { index, term, membership } = this.metadata;
    return { index, term, membership, headerBytes: this.headerBytes, fileBytes: this.position, checksum: head.readUInt32LE(4) };
  }

  /** Gives up: the temp file goes (the previous snapshot was never touched). */
  abort(): void {
    const fd = this.fd;
    this.fd = null;
    removeQuietly(this.fileSystem, fd, this.temporaryPath);
  }
}

/** The name of the temp file a leader's snapshot of `index` is received into. */
export function incomingSnapshotFileName(index: number): string {
  return `incoming-${String(index).padStart(20, '0')}.snap${temporaryFileSuffix}`;
}

export class IncomingSnapshot {
  readonly index: number;
  readonly fileBytes: number;
  /** The leader's file checksum: with index and length, what identifies the stream for a resume. */
  readonly checksum: number;
  private readonly fileSystem: WalFileSystem;
  private readonly dir: string;
  private readonly temporaryPath: string;
  private fd: number | null;
  private held = 0;
  private verified: SnapshotFileInfo | null = null;

  constructor(fileSystem: WalFileSystem, dir: string, index: number, fileBytes: number, checksum: number) {
    this.fileSystem = fileSystem;
    this.dir = dir;
    this.index = index;
    this.fileBytes = fileBytes;
    this.checksum = checksum;
    this.temporaryPath = path.join(dir, incomingSnapshotFileName(index));
    this.fd = fileSystem.open(this.temporaryPath, 'createTruncate');
  }

  /** Bytes held from offset 0 on. */
  get heldBytes(): number {
    return this.held;
  }

  get verifiedInfo(): SnapshotFileInfo | null {
    return this.verified;
  }

  /** Writes `bytes` at `offset` when that is the end of what is held (else nothing); returns the bytes held. */
  write(offset: number, bytes: Uint8Array): number {
    if (this.fd === null || offset !== this.held || bytes.byteLength === 0) return this.held;
    assert(offset + bytes.byteLength <= this.fileBytes, `snapshot chunk ${offset}+${bytes.byteLength} past the ${this.fileBytes}-byte file`);
    writeFully(this.fileSystem, this.fd, bytes, 0, bytes.byteLength, offset);
    this.held += bytes.byteLength;
    return this.held;
  }

  /** Once whole: fsync, then verify it whole; the file's metadata, or why it is not the leader's snapshot. */
  verify(bytesMax: number): SnapshotFileInfo | string {
    if (this.verified !== null) return this.verified;
    if (this.held !== this.fileBytes) return `holds ${this.held} of ${this.fileBytes} bytes`;
    const fd = this.fd;
    if (fd !== null) {
      this.fileSystem.fsync(fd);
      this.fd = null;
      this.fileSystem.close(fd);
    }
    const info = verifySnapshotFile(this.fileSystem, this.temporaryPath, bytesMax);
    if (typeof info === 'string') return info;
    if (info.index !== this.index || info.checksum !== this.checksum) return `holds index ${info.index} checksum ${info.checksum}, expected ${this.index} checksum ${this.checksum}`;
    this.verified = info;
    return info;
  }

  /** Renames the verified file into place and fsyncs the directory: durable when it returns. */
  install(): SnapshotFileInfo {
    const info = this.verified;
    assert(info !== null, `install of the incoming snapshot at ${this.index} before it verified`);
    this.fileSystem.rename(this.temporaryPath, path.join(this.dir, snapshotFileName(this.index)));
    this.fileSystem.syncDirectory(this.dir);
    return info;
  }

  abort(): void {
    const fd = this.fd;
    this.fd = null;
    removeQuietly(this.fileSystem, fd, this.temporaryPath);
  }
}
