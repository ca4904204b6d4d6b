/**
 * docs/protocol.md stays true to the code: its example bytes decode (with @msgpack/msgpack, no
 * project codec) to the messages it says and pass the checkers; every request type has its
 * section; every client-facing error code is listed with its registry number.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { decode } from '@msgpack/msgpack';
import { errorCodes, isFalconError } from '../../src/errors.js';
import { checkClientReply, createClientRequestChecker } from '../../src/protocol/client-validation.js';
import { exampleReplies } from './client-examples.js';

const doc = readFileSync(fileURLToPath(new URL('../../../docs/protocol.md', import.meta.url)), 'utf8');

/** The bytes of the first code block after `marker`, written as hex pairs. */
function hexBlockAfter(marker: string): Buffer {
  const start = doc.indexOf(marker);
  expect(start, `docs/protocol.md has "${marker}"`).to.be.greaterThan(-1);
  const block = /```\n([0-9a-f \n]+)```/.exec(doc.slice(start));
  if (block === null) throw new Error(`no hex block after "${marker}"`);
  return Buffer.from((block[1] ?? '').replace(/\s+/g, ''), 'hex');
}

/** One frame's body, after checking its length prefix against the bytes shown. */
function bodyOf(frame: Buffer): Uint8Array {
  expect(frame.readUInt32BE(0)).to.equal(frame.length - 4);
  return frame.subarray(4);
}

describe('docs/protocol.md', () => {
  it('shows hello as bytes that decode to the request it names, and the checker accepts them', () => {
    const request = decode(bodyOf(hexBlockAfter('The request as bytes')));
    expect(request).to.deep.equal({ id: 1, type: 'hello', protocol: 1, client: 'example' });
    expect(isFalconError(createClientRequestChecker({ payloadBytesMax: 1024 })(request))).to.equal(false);
  });

  it('shows a hello reply as bytes that the reply checker accepts', () => {
    const reply = decode(bodyOf(hexBlockAfter('as bytes:\n\n```\n00 00 00 30')));
    expect(reply).to.deep.equal({ id: 1, protocol: 1, node: 'n1', leader: 'n1', producerId: 'p-1' });
    expect(isFalconError(checkClientReply(reply, 'hello'))).to.equal(false);
  });

  it('has a section and an example for every request type', () => {
    for (const type of Object.keys(exampleReplies)) {
      expect(doc, `a section for ${type}`).to.match(new RegExp(`^### .*\\b${type}\\b`, 'm'));
      expect(doc, `an example of ${type}`).to.contain(`type: "${type}"`);
    }
  });

  it('lists every client-facing error code with its number', () => {
    for (const [code, number] of Object.entries(errorCodes).filter(([, number]) => number < 100)) {
      expect(doc, code).to.contain(`| \`${code}\` | ${number} |`);
    }
  });
});
