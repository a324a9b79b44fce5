import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PreOperationContext } from '../core/pre-operation.js';
import { rootLogger } from '../logger.js';
import { ruleOf } from './actions/action-fixture.js';
import { createHookGate, type HookGateDeps, type HookRules } from './hooks.js';
import type { RuleAction, RuleRecord } from './types.js';

const log = rootLogger.child({ logger: 'test' });

function rulesOf(rules: RuleRecord[]): HookRules {
  return { forEvent: (event) => rules.filter((r) => r.events.includes(event)) };
}

const upload = (path: string, sessionId = 'ssh-1'): PreOperationContext => ({
  user: 'alice',
  path,
  protocol: 'sftp',
  remoteAddress: '192.0.2.7',
  sessionId,
});

function hook(name: string, actions: RuleAction[], extra: Partial<RuleRecord> = {}): RuleRecord {
  return ruleOf(name, actions, { events: ['pre-upload'], ...extra });
}

test('a command hook allows with exit 0, denies otherwise with its first output line as the reason', async () => {
  const noExe = hook('no-exe', [{ kind: 'command', argv: ['/bin/false'] }], {
    conditions: { paths: ['**/*.exe'] },
  });
  const scan = hook('scan', [
    {
      kind: 'command',
      argv: ['/bin/sh', '-c', 'case "$1" in *virus*) echo "infected: $1"; exit 1;; esac', 'scan', '{{name}}'],
    },
  ]);
  const gate = createHookGate({ rules: rulesOf([noExe, scan]), commandsEnabled: true, log });
  assert.deepEqual(await gate.check('upload', upload('/in/x.txt')), { allow: true });
  assert.deepEqual(await gate.check('upload', upload('/in/sub/x.exe')), {
    allow: false,
    rule: 'no-exe',
    reason: 'exit status 1',
  });
  assert.deepEqual(await gate.check('upload', upload('/in/virus.bin')), {
    allow: false,
    rule: 'scan',
    reason: 'infected: virus.bin',
  });
  assert.deepEqual(
    await gate.check('download', upload('/in/x.exe')),
    { allow: true },
    'pre-upload rules only',
  );
  // A rule's own file actions are not asked again.
  assert.deepEqual(await gate.check('upload', upload('/in/x.exe', 'rule:no-exe:d1')), { allow: true });
  assert.equal(gate.latency.count, 4);
});

test('a hook that times out or fails denies by default, within its timeout; onHookFailure allow lets it through', async () => {
  const slow = hook('slow', [{ kind: 'command', argv: ['/bin/sleep', '5'] }], { hookTimeoutMs: 300 });
  const gate = createHookGate({ rules: rulesOf([slow]), commandsEnabled: true, log });
  const started = performance.now();
  const decision = await gate.check('upload', upload('/a.txt'));
  const ms = performance.now() - started;
  assert.deepEqual(decision, { allow: false, rule: 'slow', reason: 'hook failed: timed out after 300 ms' });
  // Bounds, not timings: the hook's own sleep would take 5 s; a timer may fire a millisecond early by this clock.
  assert.ok(ms < 4000, `took ${Math.round(ms)} ms`);
  assert.equal(gate.latency.count, 1);
  assert.ok(gate.latency.sumMs >= 290 && gate.latency.sumMs < 4000, `latency ${gate.latency.sumMs} ms`);
  const lenient = createHookGate({
    rules: rulesOf([{ ...slow, onHookFailure: 'allow' }]),
    commandsEnabled: true,
    log,
  });
  assert.deepEqual(await lenient.check('upload', upload('/a.txt')), { allow: true });
  const off = createHookGate({
    rules: rulesOf([hook('cmd', [{ kind: 'command', argv: ['/bin/true'] }])]),
    commandsEnabled: false,
    log,
  });
  const refused = await off.check('upload', upload('/a.txt'));
  assert.equal(refused.allow, false);
  assert.match(refused.allow ? '' : refused.reason, /rules\.commands/);
  const mail = createHookGate({
    rules: rulesOf([hook('mail', [{ kind: 'email', to: ['a@b.c'] }])]),
    commandsEnabled: true,
    log,
  });
  assert.deepEqual(await mail.check('upload', upload('/a.txt')), {
    allow: false,
    rule: 'mail',
    reason: 'hook failed: an action of kind email cannot answer a pre-operation hook',
  });
});

test('a webhook hook: 2xx allows, 403 or {"allow": false} denies with its reason, a 500 fails (deny)', async (t) => {
  const { createServer } = await import('node:http');
  const seen: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      const { fields } = JSON.parse(body) as { fields: { name: string } };
      seen.push(fields.name);
      if (fields.name.endsWith('.exe')) res.writeHead(403).end('{"allow":false,"reason":"no executables"}');
      else if (fields.name.endsWith('.zip'))
        res.writeHead(200).end('{"allow":false,"reason":"quarantine zips"}');
      else if (fields.name.endsWith('.bad')) res.writeHead(500).end('oops');
      else res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as { port: number };
  // A plain POST of the event, standing in for webhook.ts's signed sendWebhook (same signature).
  const sendWebhook: HookGateDeps['sendWebhook'] = async (action, message, _secret, signal) => {
    const res = await fetch(action.url, { method: 'POST', body: JSON.stringify(message), signal });
    const output = await res.text();
    return {
      ok: res.ok,
      responseCode: res.status,
      output,
      ...(res.ok ? {} : { error: `HTTP ${res.status}` }),
    };
  };
  const rule = hook('policy', [{ kind: 'webhook', url: `http://127.0.0.1:${port}/check` }]);
  const gate = createHookGate({ rules: rulesOf([rule]), commandsEnabled: false, sendWebhook, log });
  assert.deepEqual(await gate.check('upload', upload('/a.txt')), { allow: true });
  assert.deepEqual(await gate.check('upload', upload('/a.exe')), {
    allow: false,
    rule: 'policy',
    reason: 'no executables',
  });
  assert.deepEqual(await gate.check('upload', upload('/a.zip')), {
    allow: false,
    rule: 'policy',
    reason: 'quarantine zips',
  });
  assert.deepEqual(await gate.check('upload', upload('/a.bad')), {
    allow: false,
    rule: 'policy',
    reason: 'hook failed: HTTP 500',
  });
  assert.deepEqual(seen, ['a.txt', 'a.exe', 'a.zip', 'a.bad']);
});
