/**
 * The typed send: a role can address a neighbour only with a message that neighbour takes
 * (protocol/links.ts). The `@ts-expect-error` lines are the test: if a wrong message ever
 * compiles, the build fails on the unused directive.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import type { ActorContext } from '../../src/actors/actor-context.js';
import type { ActorName } from '../../src/runtime/topology.js';

/** A send that records what it was given, typed exactly like the runtime's. */
function recordingSend(): { send: ActorContext['send']; sent: Array<[ActorName, { readonly type: string }]> } {
  const sent: Array<[ActorName, { readonly type: string }]> = [];
  return { sent, send: (to, message) => { sent.push([to, message]); } };
}

describe('a role can send a neighbour only the messages that neighbour takes', () => {
  it('WAL requests go to the WAL writer and WAL answers to the Replicator; nothing else compiles', () => {
    const { send, sent } = recordingSend();
    send('walWriter', { type: 'truncate', fromIndex: 3 });
    send('replicator', { type: 'durable', lastIndex: 3, lastTerm: 1 });
    // @ts-expect-error a WAL answer is not a request the WAL writer takes
    send('walWriter', { type: 'durable', lastIndex: 3, lastTerm: 1 });
    // @ts-expect-error a WAL request is not a message the Replicator takes
    send('replicator', { type: 'describe' });
    // @ts-expect-error a request with a field missing
    send('walWriter', { type: 'truncate' });
    // @ts-expect-error the Dispatcher takes no role message until the queue's links land
    send('dispatcher', { type: 'describe' });
    expect(sent.map(([to, message]) => `${to}:${message.type}`)).to.deep.equal(['walWriter:truncate', 'replicator:durable', 'walWriter:durable', 'replicator:describe', 'walWriter:truncate', 'dispatcher:describe']);
  });
});
