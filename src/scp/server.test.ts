// serveScp against hostile peers: every malformed stream ends that transfer with a message, exit 1 and a closed session.
import assert from 'node:assert/strict';
import { Duplex, PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import type { FileSession } from '../core/types.js';
import { NotFoundError } from '../errors.js';
import { rootLogger } from '../logger.js';
import type { ScpChannel } from './channel-io.js';
import { parseScpCommand, serveScp } from './server.js';

// Quiet unless asked: failures here are expected and logged by design.
const logger = rootLogger.child({}, { level: process.env.FERRY_LOG_LEVEL ?? 'silent' });

/**
 * Not a stand-in for the core: it refuses every file operation, which is the point. These streams
 * must be rejected by the adapter before anything would reach the core (stat of the target aside).
 */
function refusingSession(): { session: FileSession; calls: string[]; closed: () => boolean } {
  const calls: string[] = [];
  let closed = false;
  const session = new Proxy({} as FileSession, {
    get(_target, property) {
      if (property === 'identity') return { username: 'alice' };
      if (property === 'close')
        return async () => {
          closed = true;
        };
      return async () => {
        calls.push(String(property));
        throw new NotFoundError();
      };
    },
  });
  return { session, calls, closed: () => closed };
}

async function runHostile(command: string, input: string) {
  const fromPeer = new PassThrough();
  const toPeer = new PassThrough();
  const channel = Duplex.from({ readable: fromPeer, writable: toPeer }) as unknown as ScpChannel;
  let status: number | null = null;
  channel.exit = (code: number) => {
    status = code;
  };
  const output: Buffer[] = [];
  toPeer.on('data', (chunk: Buffer) => output.push(chunk));
  const { session, calls, closed } = refusingSession();
  fromPeer.end(input);
  const parsed = parseScpCommand(command);
  assert.ok(parsed);
  await serveScp(channel, parsed, session, { logger });
  return { status, output: Buffer.concat(output).toString('latin1'), calls, closed: closed() };
}

describe('serveScp with a hostile peer', () => {
  const cases: Array<[string, string, string, RegExp]> = [
    [
      'names that climb',
      'scp -t .',
      'C0644 1 ../x\na\0',
      /^\0\x02scp: protocol error: unexpected filename: \.\.\/x\n$/,
    ],
    [
      'names with a slash',
      'scp -r -t .',
      'D0755 0 a/b\n',
      /^\0\x02scp: protocol error: unexpected filename: a\/b\n$/,
    ],
    ['a bad mode', 'scp -t .', 'C06x4 1 a\na\0', /^\0\x02scp: protocol error: bad mode\n$/],
    ['a negative size', 'scp -t .', 'C0644 -1 a\n', /^\0\x02scp: protocol error: size not present\n$/],
    [
      'a directory without -r',
      'scp -t .',
      'D0755 0 d\nE\n',
      /^\0\x02scp: protocol error: received directory/,
    ],
    ['garbage', 'scp -t .', 'GET / HTTP/1.1\n', /^\0\x02scp: protocol error: expected control record\n$/],
    [
      'an endless line',
      'scp -t .',
      `C0644 1 ${'a'.repeat(10_000)}`,
      /^\0\x02scp: protocol error: control line too long\n$/,
    ],
    ['a fatal message', 'scp -t .', '\x02scp: giving up\n', /^\0$/],
  ];
  for (const [what, command, input, expected] of cases) {
    it(`ends the transfer on ${what}`, async () => {
      const result = await runHostile(command, input);
      assert.match(result.output, expected);
      assert.equal(result.status, 1);
      assert.equal(result.closed, true);
      assert.deepEqual(
        result.calls.filter((call) => call !== 'stat'),
        [],
      );
    });
  }

  it('ends cleanly when the peer hangs up in the middle of a record', async () => {
    const result = await runHostile('scp -t .', 'C0644 10 a\nabc');
    assert.equal(result.status, 1);
    assert.equal(result.closed, true);
  });

  it('reports a missing source and exits 1', async () => {
    const result = await runHostile('scp -f nope', '\0');
    assert.equal(result.output, '\x01scp: nope: No such file or directory\n');
    assert.equal(result.status, 1);
    assert.equal(result.closed, true);
  });
});
