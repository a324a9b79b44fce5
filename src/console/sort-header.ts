// Sortable table headers: each sortable column's title is a link that asks the REST API for that order
// (`sort=key`, again for `-key`), keeping the page's filters and starting from the first page; `aria-sort` tells
// assistive technology which column orders the table and which way.
import { type Html, html } from '../web/html.js';

export interface Column {
  readonly label: string;
  /** The API's sort key; absent: the column does not sort. */
  readonly sort?: string;
}

/** The effective sort of a page: the query's when given, else the list's default. */
export function sortOf(query: Record<string, string | undefined>, byDefault: string): string {
  const given = query.sort;
  return given === undefined || given === '' ? byDefault : given;
}

/**
 * The `<thead>` of a list whose current order is `current` (`key` or `-key`). `filters` are the page's own query
 * parameters (search text, filters) that every header link keeps; the cursor is left out, so a new order starts
 * at its first page.
 */
export function sortableHead(
  path: string,
  columns: readonly Column[],
  current: string,
  filters: Record<string, string | undefined>,
): Html {
  const descending = current.startsWith('-');
  const currentKey = descending ? current.slice(1) : current;
  const cells = columns.map((c) => {
    if (c.sort === undefined) return html`<th scope="col">${c.label}</th>`;
    const active = c.sort === currentKey;
    // The active column flips its direction; another starts ascending.
    const next = active && !descending ? `-${c.sort}` : c.sort;
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(filters))
      if (value !== undefined && value !== '') params.set(name, value);
    params.set('sort', next);
    const state = active ? (descending ? 'descending' : 'ascending') : 'none';
    const mark = active ? (descending ? ' ▼' : ' ▲') : '';
    const hint = `sort by ${c.label.toLowerCase()}, ${next.startsWith('-') ? 'descending' : 'ascending'}`;
    return html`<th scope="col" aria-sort="${state}"><a class="sort" href="${path}?${params.toString()}" title="${hint}">${c.label}<span class="sort-mark" aria-hidden="true">${mark}</span></a></th>`;
  });
  return html`<thead><tr>${cells}</tr></thead>`;
}
