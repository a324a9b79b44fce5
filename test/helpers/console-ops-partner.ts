// The partner and the job the console's pages are tried against when a test does not make them through the
// console itself: `self` (the server's own SFTP port, as the fixture's user dave, its host key trusted) and the
// push job `push-invoices` from the fixture's outbox to it, not yet run.
import { cliActor } from '../../src/admin/actor.js';
import { Secret } from '../../src/util/secret.js';
import type { OpsFixture } from './console-ops-fixture.js';

export async function addSelfPartnerAndJob(fx: OpsFixture): Promise<void> {
  const { partners, jobs } = fx.server.running.context.admin;
  await partners.add(cliActor(), {
    name: 'self',
    host: '127.0.0.1',
    port: fx.server.port,
    user: 'dave',
    password: new Secret('dave-password-1'),
  });
  const key = await partners.presentedHostKey('self');
  await partners.trust(cliActor(), { name: 'self', algorithm: key.algorithm, sha256: key.sha256 });
  await jobs.add(cliActor(), {
    name: 'push-invoices',
    partner: 'self',
    direction: 'push',
    remoteDir: '/',
    localDir: fx.outbox,
    pattern: '*.csv',
    retries: 0,
  });
}
