// Fuzzes the SFTP codec: the packet reader, ATTRS, the framer and every request row's parser with random bytes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ProtocolError } from '../errors.js';
import { runProperty } from '../util/fuzz-fixture.js';
import { EXTENSIONS_BY_NAME } from './extensions.js';
import { attrsArb, parsesOrProtocolError, wireAttrs } from './fuzz-fixture.js';
import { REQUESTS_BY_TYPE } from './requests.js';
import { FXP } from './wire/constants.js';
import { PacketFramer } from './wire/framer.js';
import { PacketReader } from './wire/reader.js';
import { PacketWriter } from './wire/writer.js';

const READER_OPS = ['uint8', 'uint32', 'uint64', 'string', 'utf8', 'attrs', 'bytes'] as const;

describe('sftp codec fuzz', () => {
  it('PacketReader reads random bytes or throws ProtocolError, never anything else', async (t) => {
    await runProperty(
      t,
      fc.property(
        fc.uint8Array({ maxLength: 96 }),
        fc.array(fc.tuple(fc.constantFrom(...READER_OPS), fc.nat({ max: 64 })), { maxLength: 12 }),
        (bytes, ops) => {
          const reader = new PacketReader(Buffer.from(bytes));
          parsesOrProtocolError(() => {
            for (const [op, n] of ops) {
              const before = reader.remaining;
              if (op === 'bytes') reader.bytes(n);
              else reader[op]();
              assert.ok(reader.remaining <= before && reader.remaining >= 0);
            }
          });
        },
      ),
      10_000,
      1_500,
    );
  });

  it('ATTRS survive a write and a read unchanged', async (t) => {
    await runProperty(
      t,
      fc.property(attrsArb, (attrs) => {
        const packet = new PacketWriter(FXP.ATTRS).uint32(7).attrs(attrs).finish();
        const reader = new PacketReader(packet.subarray(4));
        assert.equal(reader.uint8(), FXP.ATTRS);
        assert.equal(reader.uint32(), 7);
        assert.deepEqual(reader.attrs(), wireAttrs(attrs));
        assert.equal(reader.remaining, 0);
      }),
      10_000,
      1_500,
    );
  });

  it('the framer cuts any chunking of a packet stream into the same packets, and refuses bad lengths', async (t) => {
    const max = 1024;
    await runProperty(
      t,
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 200 }), { maxLength: 12 }),
        fc.array(fc.nat({ max: 300 }), { maxLength: 30 }),
        fc.uint8Array({ maxLength: 12 }),
        (bodies, cuts, junk) => {
          const stream = Buffer.concat([
            ...bodies.map((body) => {
              const header = Buffer.alloc(4);
              header.writeUInt32BE(body.length);
              return Buffer.concat([header, body]);
            }),
            Buffer.from(junk),
          ]);
          const framer = new PacketFramer(max);
          const got: Buffer[] = [];
          let refused = false;
          let offset = 0;
          for (const cut of [...cuts, stream.length]) {
            framer.push(stream.subarray(offset, Math.min(stream.length, offset + cut)));
            offset = Math.min(stream.length, offset + cut);
            try {
              for (let p = framer.next(); p; p = framer.next()) got.push(Buffer.from(p));
            } catch (err) {
              assert.ok(err instanceof ProtocolError, String(err));
              refused = true;
              break;
            }
          }
          assert.deepEqual(
            got.slice(0, bodies.length).map((b) => b.toString('hex')),
            bodies.slice(0, got.length).map((b) => Buffer.from(b).toString('hex')),
          );
          // Only the trailing junk can be refused, and only for a length of 0 or above the limit.
          if (refused) assert.ok(got.length >= bodies.length);
          for (const packet of got) assert.ok(packet.length >= 1 && packet.length <= max);
        },
      ),
      10_000,
      1_500,
    );
  });

  it('every request row and extension parses random bodies or throws ProtocolError', async (t) => {
    const specs = [...REQUESTS_BY_TYPE.values(), ...EXTENSIONS_BY_NAME.values()];
    await runProperty(
      t,
      fc.property(fc.constantFrom(...specs), fc.uint8Array({ maxLength: 80 }), (spec, body) => {
        parsesOrProtocolError(() => spec.parse(new PacketReader(Buffer.from(body))));
      }),
      10_000,
      1_500,
    );
  });
});

// ---- the session loop --------------------------------------------------------------------------------
