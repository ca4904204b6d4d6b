/**
 * The one place FalconQueue imports msgpackr.
 *
 * Why a module of its own: `import 'msgpackr'` under Node resolves to msgpackr's node entry,
 * which tries to load the optional native addon `msgpackr-extract`. The `msgpackr/pack`
 * subpath resolves (under Node) to msgpackr's pure-JavaScript build, which never does.
 * Every other file imports the codec from here; eslint refuses a bare `msgpackr` import
 * (see native-free.md, and test/native-free.test.ts which checks the loaded shared objects).
 *
 * Runs on: every thread.
 */
import { Packr, Unpackr } from 'msgpackr/pack';

/** Options shared by every codec instance: plain MessagePack, no codec-private extensions. */
const plainMessagePack = {
  useRecords: false,
  moreTypes: false,
  structuredClone: false,
  mapsAsObjects: true,
  int64AsType: 'number',
} as const;

/** A fresh encoder/decoder pair producing plain MessagePack that any library can read. */
export function createCodec(): { packr: Packr; unpackr: Unpackr } {
  return { packr: new Packr(plainMessagePack), unpackr: new Unpackr(plainMessagePack) };
}

const shared = createCodec();

/** Encodes `value` as plain MessagePack. The returned buffer is owned by the caller. */
export function encode(value: unknown): Buffer {
  return shared.packr.pack(value);
}

/** Decodes one plain MessagePack value. Throws on malformed input: callers at a trust
 *  boundary (sockets, files) catch and turn it into a typed error. */
export function decode(bytes: Uint8Array): unknown {
  return shared.unpackr.unpack(bytes);
}

export { Packr, Unpackr };
