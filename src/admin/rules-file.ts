// Reads a rules file (YAML or JSON): a list of rules, or `{ rules: [...] }`, each checked like `rules add`.
import { parseRuleDefinition } from '../automation/rule-schema.js';
import { InvalidArgumentError } from '../errors.js';
import type { RuleDefinition } from '../store/automation-types.js';
import { Secret } from '../util/secret.js';

export type RulesFileFormat = 'yaml' | 'json';

/**
 * One rule of a file, with the webhook secret its `secretEnv` names (a file on disk never holds it), or, for a
 * file sent over HTTP (TLS, never stored as a file), its own `secret`.
 */
export interface RulesFileEntry {
  readonly rule: RuleDefinition;
  readonly secret?: Secret<string>;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MAX_RULES = 1000;

/** `.json` is read as JSON, anything else as YAML (1.2, core schema: `yes` stays a string). */
export function rulesFileFormat(fileName: string): RulesFileFormat {
  return fileName.toLowerCase().endsWith('.json') ? 'json' : 'yaml';
}

async function parseText(text: string, format: RulesFileFormat): Promise<unknown> {
  if (format === 'json') {
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new InvalidArgumentError(`not valid JSON: ${(err as Error).message}`);
    }
  }
  // Loaded on first use: only `rules import` reads YAML.
  const yaml = await import('yaml');
  try {
    return yaml.parse(text, { uniqueKeys: true, maxAliasCount: 100, prettyErrors: false });
  } catch (err) {
    const first = ((err as Error).message ?? 'cannot parse').split('\n')[0];
    throw new InvalidArgumentError(`not valid YAML: ${first}`);
  }
}

/**
 * Parses and checks every rule; the first problem is one line naming the rule and its field. Names must be
 * unique within the file. `env` resolves `secretEnv` (an unset variable is an error, not an unsigned hook).
 */
export async function parseRulesFile(
  text: string,
  format: RulesFileFormat,
  env: Readonly<Record<string, string | undefined>>,
  /** 'inline': each rule may carry `secret`, and `secretEnv` is refused (the server's environment is not the caller's). */
  secrets: 'env' | 'inline' = 'env',
): Promise<RulesFileEntry[]> {
  const data = await parseText(text, format);
  let list: unknown;
  if (Array.isArray(data)) list = data;
  else if (data !== null && typeof data === 'object') {
    const extra = Object.keys(data).filter((k) => k !== 'rules');
    if (extra.length > 0) {
      throw new InvalidArgumentError(`unknown top-level key '${extra[0]}'; a rules file holds 'rules:'`);
    }
    list = (data as { rules?: unknown }).rules;
  }
  if (!Array.isArray(list)) {
    throw new InvalidArgumentError("a rules file is a list of rules or holds one under 'rules:'");
  }
  if (list.length > MAX_RULES) throw new InvalidArgumentError(`more than ${MAX_RULES} rules in one file`);
  const seen = new Set<string>();
  return list.map((raw, i) => {
    const named =
      raw !== null && typeof raw === 'object' && typeof (raw as { name?: unknown }).name === 'string'
        ? ` (${(raw as { name: string }).name})`
        : '';
    const at = `rules[${i}]${named}: `;
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      throw new InvalidArgumentError(`${at}must be a rule (name, events, actions, ...)`);
    }
    const { secretEnv, ...rest } = raw as Record<string, unknown>;
    // From disk, `secret` stays in the rule and is refused as an unknown field, as it always was.
    const { secret: inline, ...withoutSecret } = rest;
    const input = secrets === 'inline' ? withoutSecret : rest;
    const rule = parseRuleDefinition(input, at);
    if (seen.has(rule.name))
      throw new InvalidArgumentError(`${at}name: ${rule.name} appears twice in the file`);
    seen.add(rule.name);
    if (secrets === 'inline') {
      if (secretEnv !== undefined)
        throw new InvalidArgumentError(
          `${at}secretEnv: the server's environment is not read for a file sent over HTTP; give the rule its secret`,
        );
      if (inline === undefined) return { rule };
      if (typeof inline !== 'string' || inline.length === 0 || inline.length > 1024)
        throw new InvalidArgumentError(`${at}secret: a string of 1-1024 characters`);
      return { rule, secret: new Secret(inline) };
    }
    if (secretEnv === undefined) return { rule };
    if (typeof secretEnv !== 'string' || !ENV_NAME.test(secretEnv)) {
      throw new InvalidArgumentError(
        `${at}secretEnv: must name an environment variable, e.g. ACME_HOOK_SECRET`,
      );
    }
    const value = env[secretEnv];
    if (value === undefined || value === '') {
      throw new InvalidArgumentError(`${at}secretEnv: environment variable ${secretEnv} is not set`);
    }
    return { rule, secret: new Secret(value) };
  });
}
