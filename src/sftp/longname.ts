// Formats READDIR longnames exactly like OpenSSH's ls_file(): clients (and users) parse them as `ls -l`.
import type { FileStat } from '../core/types.js';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const HALF_YEAR_SECONDS = (365 * 24 * 60 * 60) / 2;

const S_IFMT = 0o170000;
const TYPE_CHARS: ReadonlyMap<number, string> = new Map([
  [0o140000, 's'],
  [0o120000, 'l'],
  [0o100000, '-'],
  [0o060000, 'b'],
  [0o040000, 'd'],
  [0o020000, 'c'],
  [0o010000, 'p'],
]);

/** BSD strmode() without its trailing space: `drwxr-sr-t`. */
export function formatMode(mode: number): string {
  const type = TYPE_CHARS.get(mode & S_IFMT) ?? '?';
  const bit = (mask: number, ch: string): string => (mode & mask ? ch : '-');
  const special = (exec: number, flag: number, set: string): string => {
    if (mode & flag) return mode & exec ? set : set.toUpperCase();
    return mode & exec ? 'x' : '-';
  };
  return (
    type +
    bit(0o400, 'r') +
    bit(0o200, 'w') +
    special(0o100, 0o4000, 's') +
    bit(0o040, 'r') +
    bit(0o020, 'w') +
    special(0o010, 0o2000, 's') +
    bit(0o004, 'r') +
    bit(0o002, 'w') +
    special(0o001, 0o1000, 't')
  );
}

/** The last formatted time: entries of one listing mostly share their minute (a Date per entry showed in profiles). */
let lastTime = { minute: Number.NaN, recent: false, text: '' };

/** strftime "%b %e %H:%M" for the last six months, "%b %e  %Y" otherwise (older or in the future). */
export function formatListingTime(mtime: number, nowSeconds: number): string {
  const recent = nowSeconds - HALF_YEAR_SECONDS < mtime && nowSeconds >= mtime;
  const minute = Math.floor(mtime / 60);
  if (minute === lastTime.minute && recent === lastTime.recent) return lastTime.text;
  const text = formatTime(mtime, recent);
  lastTime = { minute, recent, text };
  return text;
}

function formatTime(mtime: number, recent: boolean): string {
  const date = new Date(mtime * 1000);
  const day = String(date.getDate()).padStart(2, ' ');
  const month = MONTHS[date.getMonth()] ?? '???';
  if (recent) {
    const hh = String(date.getHours()).padStart(2, '0');
    const mm = String(date.getMinutes()).padStart(2, '0');
    return `${month} ${day} ${hh}:${mm}`;
  }
  return `${month} ${day}  ${date.getFullYear()}`;
}

/** `-rw-r--r--    1 alice    alice        1234 Nov 23 12:00 name` (server local time, like sftp-server). */
export function formatLongname(name: string, stat: FileStat, nowSeconds = Date.now() / 1000): string {
  const owner = (stat.owner || String(stat.uid)).padEnd(8, ' ');
  const group = (stat.group || String(stat.gid)).padEnd(8, ' ');
  const nlink = String(stat.nlink).padStart(3, ' ');
  const size = String(stat.size).padStart(8, ' ');
  // strmode() leaves an 11th column (a space) before the format's own separator: hence two spaces.
  return `${formatMode(stat.mode)}  ${nlink} ${owner} ${group} ${size} ${formatListingTime(stat.mtime, nowSeconds)} ${name}`;
}
