// RFC 4515 filter values: a login name or DN put into a configured filter template can never change its shape.

/**
 * Escapes a value for an LDAP search filter (RFC 4515 §3): `*`, `(`, `)`, `\` and NUL as `\XX`, so `*)(uid=*`
 * is a literal name, not a wildcard and a second clause. Non-ASCII stays UTF-8, as the RFC allows.
 */
export function escapeFilterValue(value: string): string {
  return value.replace(/[*()\\\0]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Fills `{name}` placeholders of a filter template with escaped values; unknown placeholders stay as written. */
export function fillFilter(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const value = values[name];
    return value === undefined ? whole : escapeFilterValue(value);
  });
}

/** The value of a DN's first RDN (`cn=staff,ou=groups,...` → `staff`), the name a group is known by. */
export function firstRdnValue(dn: string): string {
  const eq = dn.indexOf('=');
  if (eq < 0) return dn;
  let out = '';
  for (let i = eq + 1; i < dn.length; i++) {
    const c = dn[i]!;
    if (c === '\\' && i + 1 < dn.length) {
      // DN escapes (RFC 4514): `\,` or `\2C`.
      const hex = dn.slice(i + 1, i + 3);
      if (/^[0-9a-f]{2}$/i.test(hex)) {
        out += String.fromCharCode(Number.parseInt(hex, 16));
        i += 2;
      } else out += dn[++i];
      continue;
    }
    if (c === ',' || c === '+') break;
    out += c;
  }
  return out.trim();
}
