/**
 * Frames survive any split of the byte stream, and bad lengths are refused before allocation.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { FrameDecoder, encodeFrame, encodeFrames } from '../../src/net/frame-decoder.js';

describe('frame decoder', () => {
  it('decodes exactly the frames that were encoded, however the stream is cut into chunks', () => {
    fc.assert(fc.property(
      fc.array(fc.uint8Array({ minLength: 1, maxLength: 3000 }), { minLength: 1, maxLength: 40 }),
      fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 50 }),
      (bodies, cuts) => {
        const stream = encodeFrames(bodies);
        const decoder = new FrameDecoder(4096);
        const decoded: Buffer[] = [];
        let offset = 0;
        let cut = 0;
        while (offset < stream.length) {
          const size = cuts[cut % cuts.length] ?? 1;
          cut += 1;
          const error = decoder.push(stream.subarray(offset, offset + size), (body) => decoded.push(Buffer.from(body)));
          expect(error).to.equal(undefined);
          offset += size;
        }
        expect(decoded.map((b) => b.toString('hex'))).to.deep.equal(bodies.map((b) => Buffer.from(b).toString('hex')));
        expect(decoder.pendingBytes).to.equal(0);
      },
    ), { numRuns: 200 });
  });

  it('refuses a frame longer than the maximum from its header alone', () => {
    const decoder = new FrameDecoder(1024);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(0xffff_fff0, 0);
    const error = decoder.push(header, () => expect.fail('no frame may be handed out'));
    expect(error?.code).to.equal('FRAME_TOO_LARGE');
    expect(error?.message).to.contain('4294967280 bytes exceeds the maximum of 1024 bytes');
  });

  it('refuses a zero-length frame as malformed', () => {
    const error = new FrameDecoder(1024).push(Buffer.alloc(4), () => expect.fail('no frame may be handed out'));
    expect(error?.code).to.equal('MALFORMED_FRAME');
  });

  it('accepts a frame of exactly the maximum size', () => {
    const body = Buffer.alloc(1024, 7);
    const frames: number[] = [];
    expect(new FrameDecoder(1024).push(encodeFrame(body), (b) => frames.push(b.length))).to.equal(undefined);
    expect(frames).to.deep.equal([1024]);
  });
});
