// The run-job action of rules against a real partner (Ferry's own server): a file arriving is pushed at once.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { contextOf, deliveryOf, ruleOf } from '../src/automation/actions/action-fixture.js';
import { createRunJobRunner } from '../src/automation/actions/run-job.js';
import type { RunJobAction } from '../src/automation/types.js';
import { rootLogger } from '../src/logger.js';
import { startTestServer } from './helpers/server.js';
import { randomFile, sha256File, transferFixture } from './helpers/transfers.js';

test('a run-job action pushes to the partner now; a missing or disabled job is a permanent failure', async (t) => {
  const fx = await transferFixture();
  t.after(() => fx.close());
  const partner = await startTestServer();
  t.after(() => partner.close());
  await partner.addUser('acme', { publicKeys: [fx.publicKey] });
  const partnerHome = await partner.homeOf('acme');
  await mkdir(join(partnerHome, 'in'), { recursive: true });
  const { partners, jobs } = fx.ctx.transfers;
  await partners.add({
    name: 'acme',
    host: '127.0.0.1',
    port: partner.port,
    username: 'acme',
    clientKey: 'id',
  });
  await partners.pin('acme', await partners.fetchHostKey('acme'));
  const outbound = join(fx.dir, 'outbound');
  await mkdir(outbound);
  const expected = await randomFile(join(outbound, 'invoice.xml'), 200_000);
  await jobs.add({
    name: 'push-acme',
    partner: 'acme',
    direction: 'push',
    remoteDir: '/in',
    localDir: outbound,
  });

  const runner = createRunJobRunner({ jobs, log: rootLogger.child({ logger: 'test' }) });
  const action: RunJobAction = { kind: 'run-job', job: 'push-acme' };
  const rule = ruleOf('to-acme', [action]);
  const outcome = await runner.run(
    action,
    deliveryOf(rule, { path: '/outbound/invoice.xml' }),
    contextOf(rule),
  );
  assert.equal(outcome.ok, true, outcome.error);
  assert.match(outcome.output ?? '', /^run \d+ of job push-acme: ok, 1 files, 200000 bytes in 1 attempts$/);
  assert.equal(await sha256File(join(partnerHome, 'in', 'invoice.xml')), expected);
  const [run] = await jobs.history('push-acme', 1);
  assert.equal(run?.trigger, 'rule', 'the run record says a rule started it');

  const missing = await runner.run({ kind: 'run-job', job: 'nope' }, deliveryOf(rule, {}), contextOf(rule));
  assert.deepEqual([missing.ok, missing.permanent, missing.error], [false, true, 'no job named nope']);
  await jobs.setEnabled('push-acme', false);
  await writeFile(join(outbound, 'later.xml'), 'x');
  const disabled = await runner.run(action, deliveryOf(rule, {}), contextOf(rule));
  assert.deepEqual(
    [disabled.ok, disabled.permanent, disabled.error],
    [false, true, 'job push-acme is disabled'],
  );
});
