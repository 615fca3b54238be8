"""pyftpdlib for the FTP comparison: PORT DIRECTORY ro|rw LOW-HIGH (passive range).

What `python3 -m pyftpdlib -i 127.0.0.1 -p PORT -d DIR [-w]` runs (anonymous, read-only unless
-w, INFO logging), except max_cons: its default of 512 would refuse the idle sessions past 512,
so it is 0 (no limit) here. Run by Debian's python3, where python3-pyftpdlib lives.
"""
import sys

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.log import config_logging
from pyftpdlib.servers import FTPServer

port, directory, write = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "rw"
low, high = (int(x) for x in sys.argv[4].split("-"))
config_logging()
authorizer = DummyAuthorizer()
authorizer.add_anonymous(directory, perm="elradfmwMT" if write else "elr")
FTPHandler.authorizer = authorizer
FTPHandler.passive_ports = range(low, high + 1)
server = FTPServer(("127.0.0.1", port), FTPHandler)
server.max_cons = 0
server.serve_forever()
