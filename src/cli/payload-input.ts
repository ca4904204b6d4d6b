/**
 * Where `falcon enqueue` takes its payload from, and how it is stored: the argument, `--file F`,
 * or stdin (when the argument is `-`, or absent while stdin is not a terminal). Without `--raw`
 * the text must be JSON and is stored as `application/json` byte for byte as given (the worker's
 * handler gets the parsed value); with `--raw` the bytes are stored as `application/octet-stream`.
 *
 * Invariant: at most `bytesMax + 1` bytes are ever read, whatever the source (a larger payload is
 * refused as the cluster would refuse it, exit 5, without reading the rest).
 *
 * Runs on: an operator's shell (the falcon process).
 */
import { open } from 'node:fs/promises';
import type { ContentType } from '../client/index.js';
import { CliFailure, cliExitCodes, usageFailure } from './cli-failure.js';

export interface PayloadSource {
  /** The positional argument (`-` for stdin). */
  readonly argument: string | undefined;
  readonly file?: string | undefined;
  readonly raw?: boolean | undefined;
}

export interface PayloadInput {
  readonly bytes: Buffer;
  readonly contentType: ContentType;
}

/** The cluster's and the SDK's default queue.payloadBytesMax, used when no cluster file says otherwise. */
export const payloadBytesMaxDefault = 1024 * 1024;

function tooLarge(source: string, bytesMax: number): CliFailure {
  return new CliFailure(cliExitCodes.refused, 'PAYLOAD_TOO_LARGE', `the payload from ${source} is more than the ${bytesMax} bytes a job may carry`,
    { field: 'payload', payloadBytesMax: bytesMax });
}

/** At most `bytesMax + 1` bytes of a stream. */
async function readBounded(stream: AsyncIterable<Buffer | string>, bytesMax: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of stream) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    chunks.push(buffer);
    bytes += buffer.byteLength;
    if (bytes > bytesMax) break;
  }
  return Buffer.concat(chunks).subarray(0, bytesMax + 1);
}

async function readFileBounded(path: string, bytesMax: number): Promise<Buffer> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw usageFailure(`--file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, '--file');
  }
  try {
    const buffer = Buffer.alloc(bytesMax + 1);
    let filled = 0;
    while (filled < buffer.byteLength) {
      const { bytesRead } = await handle.read(buffer, filled, buffer.byteLength - filled, null);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return buffer.subarray(0, filled);
  } finally {
    await handle.close();
  }
}

async function sourceBytes(source: PayloadSource, bytesMax: number): Promise<{ bytes: Buffer; from: string }> {
  const { argument, file } = source;
  if (file !== undefined) {
    if (argument !== undefined) throw usageFailure('give the payload once: as an argument, with --file, or on stdin', 'payload');
    return { bytes: await readFileBounded(file, bytesMax), from: file };
  }
  if (argument !== undefined && argument !== '-') return { bytes: Buffer.from(argument, 'utf8'), from: 'the argument' };
  if (argument === undefined && process.stdin.isTTY === true) {
    throw usageFailure('no payload: give it as an argument, with --file FILE, or on stdin (e.g. echo \'{"a":1}\' | falcon enqueue QUEUE)', 'payload');
  }
  return { bytes: await readBounded(process.stdin, bytesMax), from: 'stdin' };
}

/** The payload's bytes and content type; a usage failure for a missing payload or malformed JSON. */
export async function readPayload(source: PayloadSource, bytesMax: number): Promise<PayloadInput> {
  const { bytes, from } = await sourceBytes(source, bytesMax);
  if (bytes.byteLength > bytesMax) throw tooLarge(from, bytesMax);
  if (bytes.byteLength === 0 && from === 'stdin') throw usageFailure('no payload: stdin was empty (give the payload as an argument, with --file FILE, or on stdin)', 'payload');
  if (source.raw === true) return { bytes, contentType: 'application/octet-stream' };
  try {
    JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw usageFailure(`the payload from ${from} is not JSON (${(error as Error).message}): write it as JSON (a string in quotes: '"hello"'), or give --raw to store the bytes as they are`, 'payload');
  }
  return { bytes, contentType: 'application/json' };
}
