/** A mistake in the command line: reported with the usage hint, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export const MAIN_HELP = `Usage: charon <command> [options]

Commands:
  dev          run a whole cluster locally: a distributor, workers and a
               storage node as child processes on loopback
  distributor  run a distributor node (--config FILE --name NAME)
  worker       run a worker node (--config FILE --name NAME)
  storage      run a storage node (--config FILE --name NAME)
  route        print a user's home worker and fallbacks (route USER --config FILE)
  user         manage the user directory (add, passwd, del, list)
  certs        create the cluster CA and node certificates (certs init --config FILE)

Options:
  -h, --help      show help (also: charon <command> --help)
  -v, --version   print the version
`;

export const DEV_HELP = `Usage: charon dev [options]

Runs a whole cluster on this machine, each node its own process: one
distributor (the client listeners), N workers and the storage nodes, linked
by mutual TLS. The configuration (DIR/cluster.yaml), the certificates
(DIR/certs) and the users (DIR/users.json) are generated under the data
directory. Prints one line per node:
  node NAME role=ROLE pid=PID admin=http://HOST:PORT restart="COMMAND"
then "ready imaps=HOST:PORT imap=HOST:PORT" on stdout when clients can
connect; logs of every node are JSON lines on stderr. When a node dies the
others keep running; COMMAND starts it again.

Options:
  --data DIR               data directory (default ./.charon); created if missing
  --imaps-port N           implicit-TLS port (default 1993; 0 = any free port)
  --imap-port N            plain port offering STARTTLS (default 1143; 0 = any free port)
  --host ADDR              address every node listens on (default 127.0.0.1)
  --workers N              number of workers (default 2)
  --storage N              number of storage nodes (default 1)
  --user NAME:PASSWORD     create the user, or reset their password (repeatable).
                           Without any --user, the user "demo" gets a fresh random
                           password, printed as "user demo password ...".
  --max-message-size N     largest message or literal accepted, in bytes (default 64 MiB)
  --log-level LEVEL        fatal, error, warn, info (default), debug, trace or silent
  -h, --help               show this help

SIGINT or SIGTERM: every node stops cleanly (sessions get "* BYE"), exit code 0.
`;

export const USER_HELP = `Usage: charon user <add|passwd|del|list> [--config FILE | --data DIR] [NAME] [options]

  add NAME       create a user
  passwd NAME    set a user's password
  del NAME       delete a user
  list           print the user names, one per line

Options:
  --config FILE       cluster configuration: edit the file its "users" key names
                      (distributors reload it by themselves)
  --data DIR          data directory (default ./.charon); the directory is DIR/users.json
  --password P        the password (visible to other local users in the process list)
  --password-stdin    read the password from standard input (one line)
  -h, --help          show this help

Without --password or --password-stdin, add and passwd generate a random
password and print "user NAME password ...". Only scrypt hashes are stored.
`;

export const CERTS_HELP = `Usage: charon certs init --config FILE [--force]

Creates, next to the cluster configuration (paths from its tls section):
  - the cluster CA (tls.ca, tls.caKey), ECDSA P-256;
  - one certificate per node in tls.nodeCerts (<name>.crt, <name>.key), signed
    by the CA, with the node's role in the OU and in a charon://role/ URI;
  - a self-signed public certificate for the distributors (tls.public).
Keys are written with mode 0600. Existing files are kept (a node certificate
that no longer matches the CA, role or name is reissued); --force replaces all.
Prints one line per pair: "created|kept WHAT cert=PATH key=PATH".

Options:
  -c, --config FILE   the cluster configuration (YAML)
  --force             replace existing files
  -h, --help          show this help
`;
