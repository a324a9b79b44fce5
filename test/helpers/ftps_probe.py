# Security probes of an FTPS server for test/ftps.test.ts, with Python's ftplib and raw sockets: prints one JSON
# object of what the server answered. Usage: ftps_probe.py PORT USER PASSWORD
import ftplib, json, socket, ssl, sys

port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
out = {}
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE


class Reuse(ftplib.FTP_TLS):
    """ftplib does not resume the control session on data connections; this is the usual fix."""

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        return self.context.wrap_socket(conn, server_hostname=self.host, session=self.sock.session), size


def answer(f, cmd):
    try:
        return f.sendcmd(cmd)
    except ftplib.all_errors as e:
        return str(e)


# Plaintext USER before AUTH TLS.
s = socket.create_connection(('127.0.0.1', port))
r = s.makefile('rb')
r.readline()
s.sendall(b'USER ' + user.encode() + b'\r\n')
out['userBeforeTls'] = r.readline().decode().strip()
s.close()

f = Reuse(context=ctx)
f.connect('127.0.0.1', port)
f.login(user, password)
answer(f, 'PBSZ 0')
out['protC'] = answer(f, 'PROT C')
out['port'] = answer(f, 'PORT 127,0,0,1,4,1')
out['eprt'] = answer(f, 'EPRT |1|127.0.0.1|1025|')
try:
    f.retrlines('LIST')
    out['listWithoutProtP'] = 'accepted'
except ftplib.all_errors as e:
    out['listWithoutProtP'] = str(e)
f.prot_p()
out['cwdUp'] = answer(f, 'CWD ../../..')
out['pwdAfterUp'] = answer(f, 'PWD')
out['sizeEtcPasswd'] = answer(f, 'SIZE /etc/passwd')
out['sizeDotDot'] = answer(f, 'SIZE ../../../../../../etc/passwd')
out['sizeSymlink'] = answer(f, 'SIZE escape/passwd')
out['cwdSymlink'] = answer(f, 'CWD escape')
data = []
f.retrbinary('RETR data.bin', data.append, rest=5)
out['restTail'] = b''.join(data).decode()

# A data connection with a fresh TLS session (no reuse) is refused.
class Fresh(ftplib.FTP_TLS):
    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        fresh = ssl.create_default_context()
        fresh.check_hostname = False
        fresh.verify_mode = ssl.CERT_NONE
        return fresh.wrap_socket(conn, server_hostname=self.host), size


g = Fresh(context=ctx)
g.connect('127.0.0.1', port)
g.login(user, password)
g.prot_p()
try:
    g.retrbinary('RETR data.bin', lambda b: None)
    out['freshSession'] = 'accepted'
except ftplib.all_errors + (OSError,) as e:
    out['freshSession'] = str(e) or type(e).__name__
try:
    out['freshSessionReply'] = g.getresp()
except Exception as e:  # the 425 may already have been read as the error above
    out['freshSessionReply'] = str(e)

# A data connection from another address (127.0.0.2) is refused: the offer stays open for the real client.
h = Reuse(context=ctx)
h.connect('127.0.0.1', port)
h.login(user, password)
h.prot_p()
resp = h.sendcmd('EPSV')
dport = int(resp.split('|')[3])
intruder = socket.socket()
intruder.bind(('127.0.0.2', 0))
intruder.connect(('127.0.0.1', dport))
intruder.settimeout(3)
try:
    got = intruder.recv(10)
    out['otherAddress'] = 'closed' if got == b'' else 'open'
except ConnectionResetError:
    out['otherAddress'] = 'closed'
except socket.timeout:
    out['otherAddress'] = 'open'
intruder.close()

# ABOR during a download the client stopped reading: the transfer's 426, then ABOR's 226, and the session goes on.
a = Reuse(context=ctx)
a.connect('127.0.0.1', port)
a.login(user, password)
a.prot_p()
conn = a.transfercmd('RETR big.bin')
conn.recv(1000)
a.putcmd('ABOR')
out['abort'] = [a.getline()[:3], a.getline()[:3]]
out['afterAbort'] = a.sendcmd('NOOP')[:3]
conn.close()
print(json.dumps(out))
