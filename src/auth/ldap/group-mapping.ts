// Directory groups → what a new account is provisioned from. Kept apart so it can later name Ferry groups.

export interface GroupMappingSettings {
  /** Directory group name → the Ferry template user its members are provisioned from; first match wins. */
  readonly groupMap: Readonly<Record<string, string>>;
  /** The template of people in no mapped group (none: Ferry's defaults). */
  readonly templateUser?: string | undefined;
  /** Refuse people in none of groupMap's groups. */
  readonly requireGroup: boolean;
}

export type GroupMapping =
  | {
      readonly allowed: true;
      readonly template: string | undefined;
      readonly mappedGroups: readonly string[];
    }
  | { readonly allowed: false; readonly reason: string };

/**
 * Which template a person's account comes from, by their directory groups (case-insensitive, as directories
 * compare names), in the order groupMap lists them; `mappedGroups` are the matched directory groups.
 */
export function mapDirectoryGroups(groups: readonly string[], settings: GroupMappingSettings): GroupMapping {
  const member = new Set(groups.map((g) => g.toLowerCase()));
  const mapped = Object.entries(settings.groupMap).filter(([group]) => member.has(group.toLowerCase()));
  if (mapped.length === 0 && settings.requireGroup)
    return { allowed: false, reason: 'not in a directory group mapped to Ferry' };
  return {
    allowed: true,
    template: mapped[0]?.[1] ?? settings.templateUser,
    mappedGroups: mapped.map(([group]) => group),
  };
}
