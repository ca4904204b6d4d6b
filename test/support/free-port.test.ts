/**
 * Test ports lie outside the kernel's ephemeral range, so no outgoing connection takes one
 * between its release and the node's own listen.
 */
import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { expect } from 'chai';
import { freePorts } from './free-port.js';

describe('free test ports', () => {
  it('are distinct, bindable, and below the ephemeral range that outgoing connections use', async () => {
    const ephemeralLow = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    const ports = [...await freePorts(9), ...await freePorts(9)];
    expect(new Set(ports).size, 'no port handed out twice').to.equal(ports.length);
    for (const port of ports) expect(port).to.be.below(ephemeralLow).and.at.least(20_000);
    const server = createServer((socket) => socket.end());
    await new Promise<void>((resolve) => server.listen(ports[0], '127.0.0.1', resolve));
    try {
      const localPorts = await Promise.all(Array.from({ length: 20 }, () => new Promise<number>((resolve, reject) => {
        const socket = connect(ports[0]!, '127.0.0.1', () => { resolve(socket.localPort!); socket.destroy(); });
        socket.once('error', reject);
      })));
      for (const localPort of localPorts) expect(ports, 'an outgoing connection took a handed-out port').not.to.include(localPort);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
