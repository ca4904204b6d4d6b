/**
 * A client of the client protocol written only with `node:net` and `@msgpack/msgpack`, from
 * docs/protocol.md: no msgpackr and no FalconQueue code, so that the tests prove a client in
 * another codec (and, by extension, another language) can speak to a node.
 *
 * Frames: [u32 big-endian body length][one MessagePack map].
 *
 * Runs on: the mocha process.
 */
import { connect, type Socket } from 'node:net';
import { decode, encode } from '@msgpack/msgpack';

export type Message = Record<string, unknown>;

export class PlainClient {
  readonly socket: Socket;
  /** Every reply received, in arrival order. */
  readonly replies: Message[] = [];
  /** Resolves when the node closed the connection (or it failed). */
  readonly closed: Promise<void>;
  private pending = Buffer.alloc(0);
  private readonly waiters: Array<() => void> = [];
  private ended = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    this.closed = new Promise((resolve) => socket.once('close', () => { this.ended = true; this.wake(); resolve(); }));
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
  }

  static connect(port: number): Promise<PlainClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port }, () => { socket.off('error', reject); resolve(new PlainClient(socket)); });
      socket.once('error', reject);
    });
  }

  /** One frame per message, all in one socket write (pipelined). */
  send(...messages: Message[]): void {
    this.socket.write(Buffer.concat(messages.map((message) => PlainClient.frame(encode(message)))));
  }

  static frame(body: Uint8Array): Buffer {
    const header = Buffer.alloc(4);
    header.writeUInt32BE(body.length, 0);
    return Buffer.concat([header, body]);
  }

  /** Resolves when `count` replies have arrived in all; rejects if the connection closes first. */
  async repliesUpTo(count: number): Promise<Message[]> {
    while (this.replies.length < count) {
      if (this.ended) throw new Error(`connection closed after ${this.replies.length} of ${count} replies: ${JSON.stringify(this.replies)}`);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    return this.replies.slice(0, count);
  }

  /** The reply with request id `id` (waits for it). */
  async reply(id: number): Promise<Message> {
    for (;;) {
      const found = this.replies.find((reply) => reply['id'] === id);
      if (found !== undefined) return found;
      await this.repliesUpTo(this.replies.length + 1);
    }
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.pending = Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= 4) {
      const length = this.pending.readUInt32BE(0);
      if (this.pending.length < 4 + length) break;
      this.replies.push(decode(this.pending.subarray(4, 4 + length)) as Message);
      this.pending = this.pending.subarray(4 + length);
    }
    this.wake();
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }
}
