// `serve`'s flags as commander names them, and each setting's help text with its default.
import { CONFIG_DESCRIPTIONS, NESTED_DESCRIPTIONS } from '../config/descriptions.js';
import { type ConfigKey, configSchema } from '../config/schema.js';

/** The commander property of a flag: `--max-file-size` → `maxFileSize`. */
export const optionName = (flag: string) =>
  flag.replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** What a setting's description says, with its default from the config schema unless the text gives it. */
export function describeSetting(setting: string): string {
  const nested = NESTED_DESCRIPTIONS[setting];
  if (nested !== undefined) return nested;
  const key = setting.split('.')[0] as ConfigKey;
  const text = CONFIG_DESCRIPTIONS[key];
  // Nested settings (store.url) and texts that explain their default in words keep their text.
  if (setting.includes('.') || /\bdefault\b/.test(text)) return text;
  const parsed = configSchema.shape[key].safeParse(undefined);
  if (!parsed.success || parsed.data === undefined) return text;
  const value = parsed.data as unknown;
  const shown = Array.isArray(value) ? (value.length > 0 ? value.join(',') : 'none') : String(value);
  return `${text} (default: ${shown})`;
}
