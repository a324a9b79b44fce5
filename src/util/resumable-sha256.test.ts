import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { ResumableSha256 } from './resumable-sha256.js';

const nodeSha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test('digests equal node:crypto for every length around the block and padding edges', () => {
  const data = randomBytes(300);
  for (let n = 0; n <= 200; n++) {
    assert.equal(
      new ResumableSha256().update(data.subarray(0, n)).digest('hex'),
      nodeSha(data.subarray(0, n)),
      `${n}`,
    );
  }
  assert.equal(new ResumableSha256().digest('hex'), nodeSha(Buffer.alloc(0)));
});

test('a state saved mid-stream (as JSON) continues to the same digest, fed in uneven chunks', () => {
  const data = randomBytes(1024 * 1024 + 77);
  for (const cut of [0, 1, 63, 64, 65, 5000, data.length]) {
    const first = new ResumableSha256();
    for (let at = 0; at < cut; at += 1000) first.update(data.subarray(at, Math.min(at + 1000, cut)));
    const saved = JSON.parse(JSON.stringify(first.state()));
    const resumed = new ResumableSha256(saved).update(data.subarray(cut));
    assert.equal(resumed.digest('hex'), nodeSha(data), `cut at ${cut}`);
  }
});

test('a damaged state is refused', () => {
  assert.throws(() => new ResumableSha256({ h: [1, 2], length: 0, pending: '' }), RangeError);
  assert.throws(
    () =>
      new ResumableSha256({
        h: [0, 0, 0, 0, 0, 0, 0, 0],
        length: 0,
        pending: Buffer.alloc(64).toString('base64'),
      }),
    RangeError,
  );
});
