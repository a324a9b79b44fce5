// What the OpenPGP folder tests share: a real server that holds a partner's public key and a key of its own
// (`ferry`), two real GnuPG keyrings (the partner, who also holds Ferry's public key, and a stranger), and the
// server's OpenPGP events as they happen.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemActor } from '../../src/admin/actor.js';
import type { FerryEvent, PgpEvent } from '../../src/events/types.js';
import { type Gpg, makeGpg } from './gpg.js';
import { startTestServer, type TestServer } from './server.js';

export interface PgpFixture {
  readonly work: string;
  readonly server: TestServer;
  readonly partner: Gpg;
  readonly stranger: Gpg;
  readonly partnerFpr: string;
  readonly strangerFpr: string;
  /** The fingerprint of the server's own key, named `ferry`. */
  readonly ferryFpr: string;
  /** Every OpenPGP event the server has published since it started. */
  readonly events: readonly PgpEvent[];
  close(): Promise<void>;
}

export async function startPgpFixture(): Promise<PgpFixture> {
  const work = await mkdtemp(join(tmpdir(), 'ferry-pgp-'));
  let server: TestServer | undefined;
  let partner: Gpg | undefined;
  let stranger: Gpg | undefined;
  const close = async () => {
    await server?.close();
    await partner?.dispose();
    await stranger?.dispose();
    await rm(work, { recursive: true, force: true });
  };
  // A set-up that fails half way still stops the server and removes the keyrings it made.
  try {
    server = await startTestServer();
    const events: PgpEvent[] = [];
    server.running.context.events.subscribe((e: FerryEvent) => {
      if (e.type === 'pgp') events.push(e);
    });
    partner = await makeGpg(work, 'partner');
    stranger = await makeGpg(work, 'stranger');
    const partnerFpr = await partner.generate('Bank Partner <bank@example.com>');
    const strangerFpr = await stranger.generate('Someone Else <else@example.com>');
    const admin = server.running.context.admin;
    // The partner's public key as `gpg --export --armor` writes it, named by its fingerprint in lower case.
    await admin.keys.pgp.import(systemActor(), { data: Buffer.from(await partner.exportPublic(partnerFpr)) });
    const ferryKey = await admin.keys.pgp.generate(systemActor(), {
      name: 'ferry',
      email: 'ferry@example.com',
    });
    const imported = await partner.run(['--import'], ferryKey.publicArmored);
    assert.equal(imported.code, 0, imported.stderr);
    return {
      work,
      server,
      partner,
      stranger,
      partnerFpr,
      strangerFpr,
      ferryFpr: ferryKey.fingerprint,
      events,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
