// The command table: one row per FTP command (RFC 959, 2228, 2389, 2428, 3659, 4217), saying whether it is
// allowed before TLS, needs a login, opens a data connection or changes files, and which handler runs it.
// Anything not listed is answered 500; PORT and EPRT are listed so they get a clear refusal (bounce attacks).
import type { Command, CommandContext } from './context.js';
import * as f from './file-commands.js';
import { pass, user } from './login.js';
import { FtpReplyError } from './replies.js';
import * as t from './transfers.js';

const FEATURES = [
  'AUTH TLS',
  'PBSZ',
  'PROT',
  'UTF8',
  'EPSV',
  'PASV',
  'MLST type*;size*;modify*;perm*;unique*;',
  'SIZE',
  'MDTM',
  'MFMT',
  'REST STREAM',
  'HASH SHA-256*',
  'TVFS',
];

function reply(code: number, text: string) {
  return (ctx: CommandContext) => ctx.reply(code, text);
}

function refuse(code: number, text: string) {
  return () => {
    throw new FtpReplyError(code, text);
  };
}

const session = (handler: Command['handler'], extra: Partial<Command> = {}): Command => ({
  needsAuth: false,
  ...extra,
  handler,
});
const files = (handler: Command['handler'], extra: Partial<Command> = {}): Command => ({
  needsAuth: true,
  needsArg: true,
  ...extra,
  handler,
});

export const COMMANDS: ReadonlyMap<string, Command> = new Map<string, Command>([
  ['FEAT', session((ctx) => ctx.reply(211, ['Features:', ...FEATURES, 'End']), { beforeTls: true })],
  // AUTH before TLS is handled by the control connection (it takes over the socket); once secure it is refused.
  ['AUTH', session(refuse(503, 'TLS already active'), { beforeTls: true })],
  [
    'QUIT',
    session(
      (ctx) => {
        ctx.reply(221, 'Goodbye');
        ctx.close();
      },
      { beforeTls: true },
    ),
  ],
  [
    'PBSZ',
    session((ctx, arg) => {
      ctx.pbsz = true;
      ctx.reply(200, arg === '0' ? 'PBSZ=0' : 'PBSZ=0 (only 0 is used with TLS)');
    }),
  ],
  [
    'PROT',
    session((ctx, arg) => {
      if (!ctx.pbsz) throw new FtpReplyError(503, 'PBSZ first');
      if (arg.toUpperCase() !== 'P') throw new FtpReplyError(534, 'Only PROT P is allowed');
      ctx.protP = true;
      ctx.reply(200, 'Protection level set to Private');
    }),
  ],
  ['USER', session(user, { needsArg: true })],
  ['PASS', session(pass)],
  [
    'OPTS',
    session((ctx, arg) => {
      if (/^UTF8( ON)?$/i.test(arg.trim())) ctx.reply(200, 'UTF8 always on');
      else if (/^HASH( SHA-256)?$/i.test(arg.trim())) ctx.reply(200, 'SHA-256');
      else throw new FtpReplyError(501, 'Option not understood');
    }),
  ],
  ['SYST', session(reply(215, 'UNIX Type: L8'))],
  ['NOOP', session(reply(200, 'NOOP ok'))],
  ['HELP', session((ctx) => ctx.reply(214, ['Commands:', [...COMMANDS.keys()].sort().join(' '), 'End']))],
  [
    'TYPE',
    session((ctx, arg) => {
      // ASCII is accepted and transfers bytes as they are, as vsftpd does by default.
      if (!/^(A|A N|I|L 8)$/i.test(arg.trim())) throw new FtpReplyError(504, 'TYPE A or I');
      ctx.reply(200, `Type set to ${arg.trim().toUpperCase()[0]}`);
    }),
  ],
  [
    'MODE',
    session((ctx, arg) => {
      if (arg.toUpperCase() !== 'S') throw new FtpReplyError(504, 'Only MODE S');
      ctx.reply(200, 'Mode S');
    }),
  ],
  [
    'STRU',
    session((ctx, arg) => {
      if (arg.toUpperCase() !== 'F') throw new FtpReplyError(504, 'Only STRU F');
      ctx.reply(200, 'Structure F');
    }),
  ],
  ['PORT', session(refuse(502, 'PORT is disabled; use EPSV or PASV'))],
  ['EPRT', session(refuse(502, 'EPRT is disabled; use EPSV or PASV'))],
  ['PWD', files(f.pwd, { needsArg: false })],
  ['XPWD', files(f.pwd, { needsArg: false })],
  ['CWD', files(f.cwd)],
  ['CDUP', files(f.cdup, { needsArg: false })],
  ['PASV', files(t.pasv, { needsArg: false })],
  ['EPSV', files(t.epsv, { needsArg: false })],
  ['LIST', files(t.list, { needsArg: false, data: true })],
  ['NLST', files(t.nlst, { needsArg: false, data: true })],
  ['MLSD', files(t.mlsd, { needsArg: false, data: true })],
  ['MLST', files(f.mlst, { needsArg: false })],
  ['SIZE', files(f.size)],
  ['MDTM', files(f.mdtm)],
  ['MFMT', files(f.mfmt, { writes: true })],
  ['REST', files(t.rest)],
  ['RETR', files(t.retr, { data: true })],
  ['STOR', files(t.stor, { data: true, writes: true })],
  ['APPE', files(t.appe, { data: true, writes: true })],
  ['STOU', files(t.stou, { needsArg: false, data: true, writes: true })],
  ['DELE', files(f.dele, { writes: true })],
  ['RMD', files(f.rmd, { writes: true })],
  ['MKD', files(f.mkd, { writes: true })],
  ['RNFR', files(f.rnfr, { writes: true })],
  ['RNTO', files(f.rnto, { writes: true })],
  ['ABOR', files(t.abor, { needsArg: false })],
  ['HASH', files(f.hash)],
  ['XSHA256', files(f.xsha256)],
  [
    'STAT',
    session((ctx) =>
      ctx.reply(211, [
        'Ferry FTPS status',
        `Connected from ${ctx.remoteAddress}`,
        ctx.user ? `Logged in as ${ctx.user.name}` : 'Not logged in',
        ctx.transfer ? 'A transfer is in progress' : 'No transfer in progress',
        'End',
      ]),
    ),
  ],
]);
