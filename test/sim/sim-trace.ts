/**
 * One line per peer message for the simulator's trace (`npm run sim -- --seed S --trace`).
 *
 * Runs on: the simulator.
 */
import type { PeerMessage } from '../../src/replication/snapshot-stream-messages.js';

function catchUpNote(message: { readonly catchingUp?: boolean; readonly bootId?: number }): string {
  return message.catchingUp === true ? ` catching up (boot ${message.bootId ?? 0})` : '';
}

export function describe(message: PeerMessage): string {
  const head = `${message.type} ${message.from}->${message.to} t${message.term}`;
  switch (message.type) {
    case 'append':
      return `${head} prev ${message.prevIndex}/${message.prevTerm} n=${message.entries.length} commit ${message.commit}`;
    case 'appendResponse':
      return `${head} index ${message.index}${message.reject ? ` REJECT hint ${message.rejectHintIndex}/${message.rejectHintTerm}` : ''}${catchUpNote(message)}`;
    case 'heartbeatResponse':
      return `${head}${catchUpNote(message)}`;
    case 'heartbeat':
      return `${head} commit ${message.commit} round ${message.readRound}${message.catchUpTo === undefined ? '' : ` catchUpTo ${message.catchUpTo}`}`;
    case 'vote':
      return `${head}${message.preVote ? ' pre' : ''}${message.transfer ? ' transfer' : ''} last ${message.lastIndex}/${message.lastTerm}`;
    case 'voteResponse':
      return `${head}${message.preVote ? ' pre' : ''}${message.reject ? ' REJECT' : ' grant'}`;
    case 'snapshot':
      return `${head} snapshot ${message.snapshot.index}/${message.snapshot.term}`;
    case 'snapshotChunk':
      return `${head} snapshot ${message.index} chunk ${message.offset}+${message.bytes.byteLength}/${message.fileBytes}`;
    case 'snapshotChunkAck':
      return `${head} snapshot ${message.index} held ${message.heldBytes}/${message.fileBytes}${message.complete ? ' complete' : ''}`;
    default:
      return head;
  }
}
