/**
 * The typed send: a role can address only its own links' neighbours, only with a message that
 * link carries in that direction, and only a receiver the compiler can pin to one actor
 * (protocol/links.ts). The `@ts-expect-error` lines are the test: if a wrong send ever compiles,
 * the build fails on the unused directive.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import type { ActorContext } from '../../src/actors/actor-context.js';
import type { OneReceiver } from '../../src/protocol/links.js';
import type { ActorName } from '../../src/runtime/topology.js';

type Sent = Array<[ActorName, { readonly type: string }]>;

/** A send that records what it was given, typed exactly like the runtime's for actor `Self`. */
function recordingSend<Self extends ActorName>(sent: Sent): ActorContext<Self>['send'] {
  return ((to: ActorName, message: { readonly type: string }) => { sent.push([to, message]); }) as ActorContext<Self>['send'];
}

describe('a role can send only on its own links, only what the link carries that way', () => {
  it('the Replicator sends WAL requests to the WAL writer, the WAL writer answers the Replicator; nothing else compiles', () => {
    const sent: Sent = [];
    const fromReplicator = recordingSend<'replicator'>(sent);
    const fromWalWriter = recordingSend<'walWriter'>(sent);
    fromReplicator('walWriter', { type: 'truncate', fromIndex: 3 });
    fromWalWriter('replicator', { type: 'durable', lastIndex: 3, lastTerm: 1 });
    // @ts-expect-error a WAL answer is not a request the WAL writer takes
    fromReplicator('walWriter', { type: 'durable', lastIndex: 3, lastTerm: 1 });
    // @ts-expect-error a WAL request is not what the WAL writer sends the Replicator
    fromWalWriter('replicator', { type: 'describe' });
    // @ts-expect-error a request with a field missing
    fromReplicator('walWriter', { type: 'truncate' });
    // @ts-expect-error the WAL writer has no link to itself, whatever the message
    fromWalWriter('walWriter', { type: 'describe' });
    // @ts-expect-error the Replicator sends the Dispatcher nothing until the queue's links land
    fromReplicator('dispatcher', { type: 'describe' });
    expect(sent.map(([to, message]) => `${to}:${message.type}`)).to.deep.equal([
      'walWriter:truncate', 'replicator:durable', 'walWriter:durable', 'replicator:describe', 'walWriter:truncate', 'walWriter:describe', 'dispatcher:describe',
    ]);
  });

  it('a receiver that may name several actors does not compile, nor does a send from a role of no known actor', () => {
    const sent: Sent = [];
    const fromReplicator = recordingSend<'replicator'>(sent);
    const anyActor = recordingSend<ActorName>(sent);
    const someone = 'walWriter' as 'walWriter' | 'replicator';
    // @ts-expect-error the receiver is a union: the message could reach the wrong actor
    fromReplicator(someone, { type: 'describe' });
    // The guard itself, for when a sender has two receivers (the Dispatcher will): one name passes,
    // a union of two does not.
    const one: OneReceiver<'walWriter'> = 'walWriter';
    // @ts-expect-error a union receiver is never
    const several: OneReceiver<'walWriter' | 'replicator'> = 'walWriter';
    expect([one, several]).to.deep.equal(['walWriter', 'walWriter']);
    // @ts-expect-error a context of no particular actor sends nothing
    anyActor('walWriter', { type: 'describe' });
    expect(sent).to.have.length(2);
  });
});
