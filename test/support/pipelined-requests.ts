/**
 * Sends client-protocol requests in ONE socket write on a fresh connection and collects the
 * replies by id (each request gets exactly one), for tests of what a node does with requests that
 * arrive together (access checks, hellos in the same read as other requests).
 *
 * Runs on: the test process.
 */
import { connect } from 'node:net';
import { createCodec } from '../../src/codec/msgpack.js';
import { FrameDecoder, encodeFrame } from '../../src/net/frame-decoder.js';

export type PipelinedReply = { id: number; error?: { code: string; message: string } } & Record<string, unknown>;

export async function pipelined(port: number, requests: ReadonlyArray<Record<string, unknown> & { id: number }>): Promise<Map<number, PipelinedReply>> {
  const codec = createCodec();
  const socket = connect({ host: '127.0.0.1', port });
  const replies = new Map<number, PipelinedReply>();
  const decoder = new FrameDecoder(1 << 22);
  try {
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const done = new Promise<void>((resolve, reject) => {
      socket.on('data', (chunk: Buffer) => decoder.push(chunk, (body) => {
        const reply = codec.unpackr.unpack(Buffer.from(body)) as PipelinedReply;
        replies.set(reply.id, reply);
        if (replies.size === requests.length) resolve();
      }));
      socket.once('close', () => reject(new Error(`the node closed the connection after ${replies.size} replies`)));
    });
    socket.write(Buffer.concat(requests.map((request) => encodeFrame(codec.packr.pack(request)))));
    await done;
    return replies;
  } finally {
    socket.destroy();
  }
}
