/**
 * A scripted node: a loopback TCP server speaking the client protocol's framing (docs/protocol.md)
 * whose every request is decided by a test. It decodes each frame (msgpack), records the request in
 * `requests` (in arrival order, hellos included), and hands it to `onRequest`, which says what to
 * do at once (answer with a reply map, 'drop' this connection, 'die') or returns nothing and may
 * answer later through `reply`. A reply goes back as `{ id, ...reply }` in one frame, unless the
 * connection is gone by then.
 *
 * Invariants: 'drop' ends only the connection that carried the request; 'die' and `kill()` reset
 * every connection (replies in flight are lost, as with kill -9) and close the port; `close()`
 * ends every connection and closes the port. Both may be called again after the node is gone.
 *
 * Runs on: the mocha process.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { decode, encode } from '../../src/codec/msgpack.js';
import { FrameDecoder, encodeFrame } from '../../src/net/frame-decoder.js';

export type Request = Record<string, unknown> & { id: number; type: string };
export type Reply = Record<string, unknown>;

/** What a scripted node does with a request, now: answer it, end its connection, or end every connection and stop. */
export type RequestAction = Reply | 'drop' | 'die';

/** The handle `onRequest` gets for one request, to act on it later (after other requests came, say). */
export interface RequestReply {
  /** Which connection of this node carried the request: 1, 2, ... in the order they were accepted. */
  readonly connection: number;
  readonly answer: (reply: Reply) => void;
  readonly drop: () => void;
  readonly die: () => void;
}

/** What to do with `request` now, or nothing yet (undefined, or no return): `reply` may act on it later. */
export type OnRequest = (request: Request, reply: RequestReply) => RequestAction | undefined | void;

export interface ScriptedNode {
  readonly port: number;
  readonly address: string;
  readonly requests: Request[];
  /** Connections open now (a client's, or a probe's). */
  readonly openConnections: number;
  /** Ends every connection and closes the port. */
  close(): Promise<void>;
  /** Resets every connection and closes the port (kill -9 of a node). */
  kill(): Promise<void>;
}

/** Twice the client's default frame bound (4 MiB), so no frame a client may send is refused here. */
const frameBytesMax = 8 * 1024 * 1024;

export async function startScriptedNode(onRequest: OnRequest): Promise<ScriptedNode> {
  const requests: Request[] = [];
  const sockets = new Set<Socket>();
  let connections = 0;
  const stop = (end: (socket: Socket) => void): Promise<void> => {
    for (const socket of sockets) end(socket);
    return new Promise((resolve) => server.close(() => resolve()));
  };
  const kill = (): Promise<void> => stop((socket) => socket.resetAndDestroy());
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    connections += 1;
    const connection = connections;
    const decoder = new FrameDecoder(frameBytesMax);
    socket.on('data', (chunk: Buffer) => decoder.push(chunk, (body) => {
      const request = decode(Buffer.from(body)) as Request;
      requests.push(request);
      const reply: RequestReply = {
        connection,
        answer: (answer) => {
          if (!socket.destroyed) socket.write(encodeFrame(encode({ id: request.id, ...answer })));
        },
        drop: () => socket.destroy(),
        die: () => void kill(),
      };
      const action = onRequest(request, reply);
      if (action === 'drop') reply.drop();
      else if (action === 'die') reply.die();
      else if (action !== undefined) reply.answer(action);
    }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    port, address: `127.0.0.1:${port}`, requests, close: () => stop((socket) => socket.destroy()), kill,
    get openConnections() {
      return sockets.size;
    },
  };
}

/**
 * For a describe block whose tests start scripted nodes: the returned function starts one, and an
 * afterEach closes every node the test started.
 */
export function scriptedNodesPerTest(): (onRequest: OnRequest) => Promise<ScriptedNode> {
  const started: ScriptedNode[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((node) => node.close()));
  });
  return async (onRequest) => {
    const node = await startScriptedNode(onRequest);
    started.push(node);
    return node;
  };
}
