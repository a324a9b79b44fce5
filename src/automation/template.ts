// `{{field}}` templates with escaping chosen by where the text goes: a webhook's JSON, a mail, a command's argv,
// a virtual path. Unknown fields are an error when the rule is saved, not a silent blank at delivery.
import { InvalidArgumentError } from '../errors.js';
import { type EventFields, TEMPLATE_FIELDS, type TemplateField } from './event-names.js';

const PLACEHOLDER = /\{\{\s*([A-Za-z][A-Za-z0-9]*)\s*\}\}/g;
const KNOWN = new Set<string>(TEMPLATE_FIELDS);

/**
 * How a field's value is made safe for its destination:
 * - `text`: as is (mail subjects and bodies are plain text; a header-breaking newline is removed by `header`);
 * - `header`: one line, control characters removed (mail subject, HTTP header values);
 * - `argv`: as is: each argv element is one argument and no shell ever parses it, so nothing needs quoting;
 * - `path-segment`: a value becomes part of one path segment: `/` and NUL are replaced and `.`/`..` refused,
 *   so a file named `../../x` cannot move a file out of the target directory the rule names.
 */
export type TemplateEscape = 'text' | 'header' | 'argv' | 'path-segment';

/** The fields a template names, for validation when a rule is saved. Throws on an unknown one. */
export function templateFields(template: string): TemplateField[] {
  const names: TemplateField[] = [];
  for (const m of template.matchAll(PLACEHOLDER)) {
    const name = m[1] ?? '';
    if (!KNOWN.has(name)) {
      throw new InvalidArgumentError(
        `unknown template field {{${name}}}; known: ${TEMPLATE_FIELDS.map((f) => `{{${f}}}`).join(' ')}`,
      );
    }
    names.push(name as TemplateField);
  }
  return names;
}

function escapeValue(value: string, mode: TemplateEscape): string {
  switch (mode) {
    case 'text':
    case 'argv':
      return value;
    case 'header':
      return value.replace(/[\u0000-\u001f\u007f]+/g, ' ');
    case 'path-segment': {
      const safe = value.replace(/[/\\\u0000-\u001f\u007f]/g, '_');
      return safe === '.' || safe === '..' ? safe.replace(/\./g, '_') : safe;
    }
  }
}

/**
 * Renders `{{field}}` placeholders. Path-like fields (`path`, `target`) under `path-segment` escaping keep
 * their slashes only where the template places them: `{{path}}` renders the whole virtual path (already
 * normalised by the core, never `..`), any other field becomes one segment.
 */
export function renderTemplate(template: string, fields: EventFields, mode: TemplateEscape): string {
  return template.replace(PLACEHOLDER, (_all, name: string) => {
    if (!KNOWN.has(name)) return '';
    const value = fields[name as TemplateField] ?? '';
    if (mode === 'path-segment' && (name === 'path' || name === 'target')) return value;
    return escapeValue(value, mode);
  });
}

/** The last segment of a virtual path ('' for '/'), for `{{name}}`-like use by file actions. */
export function baseName(virtualPath: string): string {
  const i = virtualPath.lastIndexOf('/');
  return i < 0 ? virtualPath : virtualPath.slice(i + 1);
}
