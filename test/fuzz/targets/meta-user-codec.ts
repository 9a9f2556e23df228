/**
 * A user codec through MetaProtocol's codec adapter: examples/toy-codec/toy-codec.mjs, loaded
 * and checked by the codec loader (prepareCodec → codecFactoryOf, as a worker does), then
 * driven through metaProtocol() (meta-driver.ts). The codec's own refusals are plain Errors
 * (the contract allows any Error); what the adapter must never do is let one escape, lose
 * bytes, or hand out a frame the codec did not cut.
 *
 * Input layout: byte 0 bit 0 picks the side (0 downstream, 1 upstream); the rest is the stream.
 */
import path from 'node:path';
import type { MetaCodecFactory } from '../../../src/api/meta-protocol-codec.js';
import { codecFactoryOf, prepareCodec, type CodecRef } from '../../../src/extensions/filters/network/meta_protocol_proxy/codec-loader.js';
import { REPO_ROOT } from '../../support/courier-harness.js';
import type { FuzzTarget } from '../target.js';
import { driveMetaCodec } from './meta-driver.js';

const REF: CodecRef = { name: 'toy', module: path.join(REPO_ROOT, 'examples', 'toy-codec', 'toy-codec.mjs'), config: {} };
let factory: MetaCodecFactory | undefined;

/** The toy frame's u32 length prefix (after the side byte) set to what follows: one frame. */
function fixup(input: Buffer): Buffer {
  if (input.length < 5) return input;
  const out = Buffer.from(input);
  out.writeUInt32BE(out.length - 5, 1);
  return out;
}

export const metaUserCodecTarget: FuzzTarget = {
  name: 'meta-user-codec',
  description: 'MetaProtocol user-codec adapter (codec-loader + metaProtocol()) with examples/toy-codec',
  maxInputBytes: 16 * 1024,
  dictionary: ['method=', 'service=', '\n', '=', 'delay-ms=1\n'].map((s) => Buffer.from(s)),
  fixup,
  async init() {
    await prepareCodec(REF, true);
    factory = codecFactoryOf(REF);
  },
  run(chunks) {
    const input = chunks[0];
    if (!input || input.length === 0) return 'empty';
    const side = (input[0]! & 1) === 0 ? 'downstream' : 'upstream';
    const stream = [input.subarray(1), ...chunks.slice(1)].filter((c) => c.length > 0);
    return driveMetaCodec('toy', () => factory!.createCodec(REF.config), side, stream, { roundTrip: true, setRequestId: true });
  },
};
