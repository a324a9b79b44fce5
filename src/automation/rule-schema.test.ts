import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  canonicalRule,
  checkWebhookSecret,
  isCidr,
  parseRuleDefinition,
  parseTimeWindow,
  webhookSigningKey,
} from './rule-schema.js';

const webhook = { kind: 'webhook', url: 'https://hooks.example.com/ferry' };
const base = { name: 'r1', events: ['upload'], actions: [webhook] };

/** The one-line message a bad rule is refused with. */
function refusal(input: unknown): string {
  try {
    parseRuleDefinition(input);
  } catch (err) {
    assert.equal((err as { code?: string }).code, 'ERR_INVALID_ARGUMENT');
    const message = (err as Error).message;
    assert.ok(!message.includes('\n'), `one line: ${message}`);
    return message;
  }
  assert.fail(`accepted ${JSON.stringify(input)}`);
}

describe('rule schema', () => {
  it('accepts a complete rule and fills in only enabled and empty conditions', () => {
    const rule = parseRuleDefinition({
      name: 'partner-in',
      events: ['upload', 'upload', 'rename'],
      conditions: {
        users: ['acme*', '!acme-test'],
        paths: ['/outbound/**'],
        protocols: ['sftp'],
        minSize: 1,
        maxSize: 1000,
        status: 'ok',
        sources: ['10.0.0.0/8', '2001:db8::/32', '192.0.2.7'],
        timeWindow: '08:00-18:00 mon-fri',
      },
      actions: [
        { kind: 'run-job', job: 'push-acme' },
        { kind: 'move', target: '{{dir}}/done/{{name}}' },
        { kind: 'email', to: ['ops@example.com'], subject: '{{user}} sent {{name}}', body: '{{size}} bytes' },
      ],
    });
    assert.deepEqual(rule.events, ['upload', 'rename']);
    assert.equal(rule.enabled, true);
    assert.deepEqual(rule.conditions.timeWindow, {
      from: '08:00',
      to: '18:00',
      days: ['mon', 'tue', 'wed', 'thu', 'fri'],
    });
    assert.equal('schedule' in rule, false);
    assert.deepEqual(parseRuleDefinition({ ...base }).conditions, {});
  });

  it('names the field of the first problem', () => {
    assert.match(
      refusal({ ...base, events: ['uplod'] }),
      /^events\[0\]: unknown event 'uplod'; known: upload,/,
    );
    assert.match(refusal({ ...base, events: [] }), /^events: must not be empty/);
    assert.match(refusal({ name: 'r1', events: ['upload'] }), /^actions: is required/);
    assert.match(refusal({ ...base, name: 'has space' }), /^name: must be 1-64 letters/);
    assert.match(refusal({ ...base, colour: 'red' }), /Unrecognized key.*colour/);
    assert.match(
      refusal({ ...base, actions: [{ kind: 'fax' }] }),
      /^actions\[0\]\.kind: must be one of webhook,/,
    );
  });

  it('requires a valid cron for schedule, and schedule only with it', () => {
    const sweep = { kind: 'retention', user: 'acme', path: '/in', olderThanDays: 30 };
    assert.match(refusal({ ...base, events: ['schedule'], actions: [sweep] }), /^schedule: is required/);
    assert.match(
      refusal({ ...base, events: ['schedule'], schedule: 'every day', actions: [sweep] }),
      /^schedule: 'every day' is not a cron expression/,
    );
    assert.match(refusal({ ...base, schedule: '0 3 * * *' }), /^schedule: is only used with the event/);
    const rule = parseRuleDefinition({
      ...base,
      events: ['schedule'],
      schedule: '0 3 * * *',
      actions: [sweep],
    });
    assert.equal(rule.schedule, '0 3 * * *');
  });

  it('keeps pre-operation hooks to webhook and command actions, alone', () => {
    const hook = { ...base, events: ['pre-upload'], hookTimeoutMs: 2000, onHookFailure: 'deny' };
    assert.equal(parseRuleDefinition(hook).hookTimeoutMs, 2000);
    assert.match(
      refusal({ ...hook, actions: [{ kind: 'email', to: ['a@b.example'] }] }),
      /^actions: pre-upload rules can only run webhook or command actions, not email/,
    );
    assert.match(
      refusal({ ...hook, events: ['pre-upload', 'upload'] }),
      /^events: pre-upload cannot be combined/,
    );
    assert.match(refusal({ ...base, hookTimeoutMs: 100 }), /^hookTimeoutMs: is only used by pre-\* rules/);
  });

  it('checks conditions: CIDRs, sizes, status, time windows', () => {
    const cond = (conditions: unknown) => refusal({ ...base, conditions });
    assert.match(
      cond({ sources: ['10.0.0.0/33'] }),
      /^conditions\.sources\[0\]: must be an IP address or CIDR/,
    );
    assert.match(cond({ sources: ['example.com'] }), /^conditions\.sources\[0\]: must be an IP/);
    assert.match(cond({ minSize: 10, maxSize: 5 }), /^conditions\.minSize: minSize is larger than maxSize/);
    assert.match(cond({ minSize: -1 }), /^conditions\.minSize: must not be negative/);
    assert.match(cond({ status: 'maybe' }), /^conditions\.status: must be ok or failed/);
    assert.match(cond({ protocols: ['ftp'] }), /^conditions\.protocols\[0\]: must be one of sftp, scp, ssh/);
    assert.match(
      cond({ timeWindow: '25:00-26:00' }),
      /^conditions\.timeWindow: time window '25:00-26:00' must be/,
    );
    assert.match(cond({ timeWindow: '08:00-08:00' }), /is empty/);
    assert.match(cond({ timeWindow: '08:00-09:00 someday' }), /days must be like mon-fri/);
    assert.deepEqual(parseTimeWindow('22:00-06:00 fri-mon'), {
      from: '22:00',
      to: '06:00',
      days: ['mon', 'fri', 'sat', 'sun'],
    });
    assert.ok(isCidr('::1') && isCidr('fe80::/10') && !isCidr('10.0.0.0/') && !isCidr('10.0.0/8'));
  });

  it('checks each action kind', () => {
    const act = (action: unknown, events = ['upload']) => refusal({ ...base, events, actions: [action] });
    assert.match(
      act({ kind: 'webhook', url: 'ftp://x.example/' }),
      /^actions\[0\]\.url: must be http:\/\/ or https:\/\//,
    );
    assert.match(act({ kind: 'webhook', url: 'not a url' }), /^actions\[0\]\.url: 'not a url' is not a URL/);
    assert.match(
      act({ kind: 'webhook', url: 'https://u:p@x.example/' }),
      /must not hold a user name or password/,
    );
    assert.match(
      act({ ...webhook, headers: { Authorization: 'Bearer x' } }),
      /^actions\[0\]\.headers\.Authorization: .*unsealed credential/,
    );
    assert.match(
      act({ kind: 'email', to: ['not-an-address'] }),
      /^actions\[0\]\.to\[0\]: must be one e-mail address/,
    );
    assert.match(act({ kind: 'email', to: [] }), /^actions\[0\]\.to: must not be empty/);
    assert.match(
      act({ kind: 'command', argv: ['notify', '{{path}}'] }),
      /argv\[0\] must be the absolute path/,
    );
    assert.match(act({ kind: 'command', argv: ['/bin/{{user}}'] }), /argv\[0\] must be the absolute path/);
    assert.match(act({ kind: 'move' }), /^actions\[0\]\.target: is required for move/);
    assert.match(act({ kind: 'delete', target: '/x' }), /^actions\[0\]\.target: is not used by delete/);
    assert.match(
      act({ kind: 'copy', target: 'done/{{name}}' }),
      /^actions\[0\]\.target: must be a virtual path/,
    );
    assert.match(act({ kind: 'sha256' }, ['login-failed']), /^actions\[0\]\.kind: sha256 needs a file event/);
    assert.match(act({ kind: 'run-job', job: '' }), /^actions\[0\]\.job: must not be empty/);
    const sweep = { kind: 'retention', user: 'acme', path: '/in' };
    assert.match(act(sweep), /^actions\[0\]\.olderThanDays: needs olderThanDays or keepFiles/);
    assert.match(
      act({ ...sweep, keepFiles: 3, moveTo: '/in/old' }),
      /^actions\[0\]\.moveTo: must be outside path/,
    );
    assert.match(act({ ...sweep, path: 'in', keepFiles: 3 }), /^actions\[0\]\.path: must be a virtual path/);
  });

  it('checks every template for unknown placeholders', () => {
    assert.match(
      refusal({ ...base, actions: [{ kind: 'email', to: ['a@b.example'], subject: '{{usr}} failed' }] }),
      /^actions\[0\]\.subject: unknown template field \{\{usr\}\}/,
    );
    assert.match(
      refusal({ ...base, actions: [{ kind: 'command', argv: ['/bin/echo', '{{pth}}'] }] }),
      /^actions\[0\]\.argv\[1\]: unknown template field/,
    );
    assert.match(
      refusal({ ...base, actions: [{ kind: 'move', target: '/done/{{nme}}' }] }),
      /^actions\[0\]\.target: unknown template field/,
    );
  });

  it('gives the same canonical text for two spellings of one rule', () => {
    const a = parseRuleDefinition({ ...base, conditions: { timeWindow: '08:00-18:00' } });
    const b = parseRuleDefinition({
      actions: [{ url: webhook.url, kind: 'webhook' }],
      conditions: { timeWindow: { to: '18:00', from: '08:00' } },
      enabled: true,
      events: ['upload'],
      name: 'r1',
    });
    assert.equal(canonicalRule(a), canonicalRule(b));
    assert.notEqual(canonicalRule(a), canonicalRule({ ...a, enabled: false }));
  });

  it('reads webhook secrets as given or as whsec_ base64', () => {
    const key = Buffer.alloc(32, 7);
    assert.deepEqual(webhookSigningKey(`whsec_${key.toString('base64')}`), key);
    assert.deepEqual(webhookSigningKey('a plain shared secret'), Buffer.from('a plain shared secret'));
    assert.throws(() => checkWebhookSecret('short'), /too short \(5 bytes\)/);
    assert.throws(() => checkWebhookSecret('whsec_***'), /must be base64/);
    checkWebhookSecret(`whsec_${key.toString('base64')}`);
  });
});
