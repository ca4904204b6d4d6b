/**
 * A TCP relay on a loopback port to a node's client port, for tests that need a connection to
 * fail at a chosen moment: it can swallow the node's replies (the client hears nothing, as from a
 * paused node), cut every connection (replies in flight are lost with them), or stop listening.
 *
 * Runs on: the test process.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export class Relay {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  /** False: what the node answers is dropped. */
  passReplies = true;

  constructor(private readonly listenPort: number, private readonly targetPort: number) {}

  async listen(): Promise<void> {
    const server = createServer((client) => {
      const node = connect({ host: '127.0.0.1', port: this.targetPort });
      this.sockets.add(client).add(node);
      client.on('data', (chunk) => node.write(chunk));
      node.on('data', (chunk) => { if (this.passReplies) client.write(chunk); });
      const end = (): void => { client.destroy(); node.destroy(); };
      client.on('close', end).on('error', end);
      node.on('close', end).on('error', end);
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(this.listenPort, '127.0.0.1', resolve));
  }

  /** Cuts every connection; new ones pass replies again. */
  cut(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    this.passReplies = true;
  }

  /** Cuts every connection and stops listening (new connections are refused). */
  async close(): Promise<void> {
    this.cut();
    const server = this.server;
    this.server = undefined;
    if (server !== undefined) await new Promise((resolve) => server.close(resolve));
  }
}
