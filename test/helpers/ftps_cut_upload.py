# Uploads over FTPS (PROT P) and ends the data connection the way argv[5] says, keeping the control connection:
# "fin" (TCP FIN, no TLS close_notify), "rst" (TCP reset) or "notify" (close_notify, then FIN). Sends
# argv[4] bytes of a deterministic pattern and prints one JSON object of the server's replies.
# Usage: ftps_cut_upload.py PORT USER PASSWORD BYTES MODE NAME
import ftplib, json, socket, ssl, struct, sys

port, user, password, size, mode, name = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
data = (bytes(range(256)) * (size // 256 + 1))[:size]

f = ftplib.FTP_TLS(context=ctx)
f.connect('127.0.0.1', port)
f.login(user, password)
f.prot_p()
f.voidcmd('TYPE I')
raw, _ = ftplib.FTP.ntransfercmd(f, 'STOR ' + name)
conn = ctx.wrap_socket(raw, server_hostname='127.0.0.1', session=f.sock.session)
conn.sendall(data)
if mode == 'notify':
    conn = conn.unwrap()
elif mode == 'fin':
    # SSLSocket.shutdown is a plain TCP shutdown: FIN with no close_notify before it.
    conn.shutdown(socket.SHUT_WR)
elif mode == 'rst':
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
conn.close()
out = {'reply': f.getline()}
try:
    out['size'] = f.sendcmd('SIZE ' + name)
except ftplib.all_errors as e:
    out['size'] = str(e)
out['noop'] = f.sendcmd('NOOP')
f.quit()
print(json.dumps(out))
