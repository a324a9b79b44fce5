import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRulesFile, rulesFileFormat } from './rules-file.js';

const mail = 'actions: [{ kind: email, to: [ops@example.com] }]';

/** The one-line message a file is refused with. */
async function refusal(text: string, env: Record<string, string> = {}, format: 'yaml' | 'json' = 'yaml') {
  try {
    await parseRulesFile(text, format, env);
  } catch (err) {
    assert.equal((err as { code?: string }).code, 'ERR_INVALID_ARGUMENT');
    const message = (err as Error).message;
    assert.ok(!message.includes('\n'), message);
    return message;
  }
  assert.fail(`accepted ${text}`);
}

describe('rules files', () => {
  it('reads a list or rules:, YAML 1.2 (yes stays a string) or JSON', async () => {
    const list = await parseRulesFile(`- { name: a, events: [upload], ${mail} }`, 'yaml', {});
    assert.equal(list[0]?.rule.name, 'a');
    const nested = await parseRulesFile(
      `rules:\n  - name: b\n    description: yes\n    events: [login-failed]\n    ${mail}\n`,
      'yaml',
      {},
    );
    assert.equal(nested[0]?.rule.description, 'yes');
    const json = await parseRulesFile(
      JSON.stringify({
        rules: [{ name: 'c', events: ['ban'], actions: [{ kind: 'email', to: ['a@b.example'] }] }],
      }),
      'json',
      {},
    );
    assert.equal(json[0]?.rule.name, 'c');
    assert.equal(rulesFileFormat('/x/rules.JSON'), 'json');
    assert.equal(rulesFileFormat('rules.yml'), 'yaml');
  });

  it('takes a webhook secret from the environment variable secretEnv names, never from the file', async () => {
    const text = `- name: h\n  events: [upload]\n  secretEnv: HOOK_SECRET\n  actions: [{ kind: webhook, url: "https://x.example/" }]\n`;
    const [entry] = await parseRulesFile(text, 'yaml', { HOOK_SECRET: 'sixteen-bytes-or-more' });
    assert.equal(entry?.secret?.reveal(), 'sixteen-bytes-or-more');
    assert.equal('secretEnv' in (entry?.rule ?? {}), false);
    assert.match(
      await refusal(text),
      /^rules\[0\] \(h\): secretEnv: environment variable HOOK_SECRET is not set$/,
    );
    assert.match(
      await refusal(text.replace('HOOK_SECRET', 'not a name')),
      /^rules\[0\] \(h\): secretEnv: must name an environment variable/,
    );
  });

  it('refuses with one line naming the rule and field', async () => {
    assert.match(await refusal('rules: [}'), /^not valid YAML: /);
    assert.match(await refusal('{"rules": [', {}, 'json'), /^not valid JSON: /);
    assert.match(await refusal('name: a'), /^unknown top-level key 'name'/);
    assert.match(await refusal('rules: 3'), /a list of rules or holds one under 'rules:'/);
    assert.match(await refusal('- 3'), /^rules\[0\]: must be a rule/);
    assert.match(
      await refusal(`- { name: a, events: [upload], ${mail} }\n- { name: a, events: [ban], ${mail} }`),
      /^rules\[1\] \(a\): name: a appears twice in the file$/,
    );
    assert.match(
      await refusal(`- { name: a, events: [upload], ${mail}, colour: red }`),
      /^rules\[0\] \(a\): Unrecognized key: "colour"/,
    );
    assert.match(await refusal('a: 1\na: 2'), /^not valid YAML: .*unique/i);
  });
});

describe('a rules file sent over HTTP (inline secrets)', () => {
  const hook = (extra: string) =>
    `- name: h\n  events: [upload]\n${extra}  actions: [{ kind: webhook, url: "https://x.example/" }]\n`;
  it('takes the secret from the rule itself, and never reads the server environment', async () => {
    const [entry] = await parseRulesFile(hook('  secret: sixteen-bytes-or-more\n'), 'yaml', {}, 'inline');
    assert.equal(entry?.secret?.reveal(), 'sixteen-bytes-or-more');
    assert.equal('secret' in (entry?.rule ?? {}), false);
    await assert.rejects(
      parseRulesFile(
        hook('  secretEnv: HOOK_SECRET\n'),
        'yaml',
        { HOOK_SECRET: 'sixteen-bytes-or-more' },
        'inline',
      ),
      /secretEnv: the server's environment is not read for a file sent over HTTP/,
    );
    await assert.rejects(parseRulesFile(hook('  secret: 42\n'), 'yaml', {}, 'inline'), /secret: a string/);
    // From a file on disk, an inline secret is still refused.
    await assert.rejects(parseRulesFile(hook('  secret: sixteen-bytes-or-more\n'), 'yaml', {}));
  });
});
