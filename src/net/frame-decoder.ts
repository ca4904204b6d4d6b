/**
 * Frames on every FalconQueue TCP connection, and the incremental decoder that cuts a byte stream
 * back into them.
 *
 * | bytes   | field                                            |
 * |---------|--------------------------------------------------|
 * | 0..3    | u32 big-endian body length, 1..frameBytesMax     |
 * | 4..     | body: one plain MessagePack value                |
 *
 * The length is checked against `frameBytesMax` before anything is allocated for the body, so a
 * peer or client that announces 4 GiB costs us nothing but a closed connection. A zero length is
 * malformed (no MessagePack value is empty).
 *
 * Invariant: `readOffset <= writeOffset <= buffer.length`; bytes in [readOffset, writeOffset)
 * are received and not yet handed out.
 *
 * Runs on: any thread that owns a socket (Replicator for peers, Dispatcher for clients).
 */
import { falconError, type FalconError } from '../errors.js';

export const frameHeaderBytes = 4;
/** The decoder's buffer starts here and grows by doubling up to frameBytesMax + header. */
const initialBufferBytes = 64 * 1024;

/** Prefixes `body` with its length, as one new Buffer. */
export function encodeFrame(body: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(frameHeaderBytes + body.length);
  frame.writeUInt32BE(body.length, 0);
  frame.set(body, frameHeaderBytes);
  return frame;
}

/** Concatenates many bodies as frames into one Buffer: one socket write for a whole batch. */
export function encodeFrames(bodies: readonly Uint8Array[]): Buffer {
  let totalBytes = 0;
  for (const body of bodies) totalBytes += frameHeaderBytes + body.length;
  const out = Buffer.allocUnsafe(totalBytes);
  let offset = 0;
  for (const body of bodies) {
    out.writeUInt32BE(body.length, offset);
    out.set(body, offset + frameHeaderBytes);
    offset += frameHeaderBytes + body.length;
  }
  return out;
}

export class FrameDecoder {
  private readonly frameBytesMax: number;
  private buffer: Buffer;
  private readOffset = 0;
  private writeOffset = 0;

  constructor(frameBytesMax: number) {
    if (!Number.isSafeInteger(frameBytesMax) || frameBytesMax < 1 || frameBytesMax > 0xffff_ffff) {
      throw new RangeError(`frameBytesMax must be an integer from 1 to 2^32-1, got ${frameBytesMax}`);
    }
    this.frameBytesMax = frameBytesMax;
    this.buffer = Buffer.allocUnsafe(Math.min(initialBufferBytes, frameBytesMax + frameHeaderBytes));
  }

  /**
   * Appends `chunk` and hands every complete frame body to `onFrame`. A body is a view into the
   * decoder's buffer, valid only during the callback (decode it there). Returns an error value
   * (and hands out nothing more) when the stream is malformed: the caller closes the connection.
   */
  push(chunk: Uint8Array, onFrame: (body: Uint8Array) => void): FalconError | undefined {
    this.append(chunk);
    // Bounded by the bytes received: every turn consumes a header and a body, or stops.
    while (this.writeOffset - this.readOffset >= frameHeaderBytes) {
      const bodyBytes = this.buffer.readUInt32BE(this.readOffset);
      if (bodyBytes === 0) return falconError('MALFORMED_FRAME', 'frame with a zero body length');
      if (bodyBytes > this.frameBytesMax) {
        return falconError('FRAME_TOO_LARGE', `frame of ${bodyBytes} bytes exceeds the maximum of ${this.frameBytesMax} bytes`,
          { frameBytes: bodyBytes, frameBytesMax: this.frameBytesMax });
      }
      const frameEnd = this.readOffset + frameHeaderBytes + bodyBytes;
      if (frameEnd > this.writeOffset) {
        this.reserve(frameHeaderBytes + bodyBytes);
        break;
      }
      onFrame(this.buffer.subarray(this.readOffset + frameHeaderBytes, frameEnd));
      this.readOffset = frameEnd;
    }
    if (this.readOffset === this.writeOffset) {
      this.readOffset = 0;
      this.writeOffset = 0;
    }
    return undefined;
  }

  /** Bytes received and not yet handed out as frames. */
  get pendingBytes(): number {
    return this.writeOffset - this.readOffset;
  }

  private append(chunk: Uint8Array): void {
    if (this.writeOffset + chunk.length > this.buffer.length) this.compactOrGrow(chunk.length);
    this.buffer.set(chunk, this.writeOffset);
    this.writeOffset += chunk.length;
  }

  /** Makes room for a whole frame of `frameBytes` (header included) from readOffset. */
  private reserve(frameBytes: number): void {
    if (this.readOffset + frameBytes > this.buffer.length) this.compactOrGrow(frameBytes - (this.writeOffset - this.readOffset));
  }

  private compactOrGrow(extraBytes: number): void {
    const pending = this.writeOffset - this.readOffset;
    const needed = pending + extraBytes;
    if (needed <= this.buffer.length) {
      this.buffer.copy(this.buffer, 0, this.readOffset, this.writeOffset);
    } else {
      let size = this.buffer.length;
      while (size < needed) size *= 2;
      const grown = Buffer.allocUnsafe(size);
      this.buffer.copy(grown, 0, this.readOffset, this.writeOffset);
      this.buffer = grown;
    }
    this.readOffset = 0;
    this.writeOffset = pending;
  }
}
