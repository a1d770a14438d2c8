// The config keys: the original's, then the port's optional ones. Defaults keep
// the original's behaviour; `doc` is what docs/config.md (npm run docs) shows.
export type KeyKind = 'int' | 'float' | 'bool01' | 'string' | 'list' | 'path';

export interface KeySpec {
  kind: KeyKind;
  default: string; // '' = unset
  min?: number;
  max?: number;
  unit?: string;
  doc: string;
  original: boolean;
}

export const KEYS: Record<string, KeySpec> = {
  DEBUG: { kind: 'int', default: '0', min: 0, max: 9, doc: 'log level: 0 = info, 1 or more = debug', original: true },
  INSTALLDIR: {
    kind: 'path',
    default: '',
    doc: "installation root (var/, res/); default: the directory above the config file's etc/",
    original: true,
  },
  LOGPATH: {
    kind: 'path',
    default: '',
    doc: 'log file prefix; each daemon logs to LOGPATH.<daemon>; default INSTALLDIR/var/log',
    original: true,
  },
  DAEMON: {
    kind: 'bool01',
    default: '1',
    doc: '1 = daemons detach and log to files, 0 = a daemon started by hand stays in the foreground and logs to stderr',
    original: true,
  },
  PINGTIMEOUT: {
    kind: 'float',
    default: '2.1',
    min: 0.05,
    max: 60,
    unit: 's',
    doc: 'timeout of the ICMP gateway check',
    original: true,
  },
  PORT: { kind: 'int', default: '4711', min: 1, max: 65535, doc: 'UDP port of the heartbeat', original: true },
  SUPERVISE_INT: {
    kind: 'int',
    default: '2000',
    min: 100,
    max: 600000,
    unit: 'ms',
    doc: 'interval of the supervise round (checks)',
    original: true,
  },
  NODES: {
    kind: 'list',
    default: '',
    doc: 'the two node names (host names, IPv4 or IPv6 literals); the first is node 1 and wins ties. A name with both families speaks IPv4',
    original: true,
  },
  GW: {
    kind: 'string',
    default: '',
    doc: 'IPv4 or IPv6 address to ping each round (the default gateway; link-local with its interface: fe80::1%eth0); empty = no gateway check',
    original: true,
  },
  NODENAME: {
    kind: 'string',
    default: '',
    unit: '',
    doc: 'name of this node in NODES (default: the host name)',
    original: false,
  },
  HEARTBEAT_INT: {
    kind: 'int',
    default: '200',
    min: 10,
    max: 60000,
    unit: 'ms',
    doc: 'heartbeat send interval',
    original: false,
  },
  DEADTIME: {
    kind: 'int',
    default: '1000',
    min: 30,
    max: 600000,
    unit: 'ms',
    doc: 'the peer is silent after this long without a valid heartbeat',
    original: false,
  },
  RES_TIMEOUT: {
    kind: 'float',
    default: '30',
    min: 0.1,
    max: 3600,
    unit: 's',
    doc: 'timeout of one resource-script call; on expiry its process group is killed and the call failed',
    original: false,
  },
  RES_RESTARTS: {
    kind: 'int',
    default: '2',
    min: 0,
    max: 100,
    doc: 'local restarts of a failed resource on the active node before it hands over',
    original: false,
  },
  GW_INT: {
    kind: 'int',
    default: '250',
    min: 20,
    max: 60000,
    unit: 'ms',
    doc: 'interval of the gateway ping (its own cadence, independent of the supervise round)',
    original: false,
  },
  GW_FAILS: {
    kind: 'int',
    default: '6',
    min: 1,
    max: 100,
    doc:
      'gateway pings in a row without an answer that count as gateway loss ' +
      '(6 × 250 ms: 10 % random loss never trips it, a real loss is seen in about 1.5 s + PINGTIMEOUT)',
    original: false,
  },
  CHECK_TIMEOUT: {
    kind: 'int',
    default: '0',
    min: 0,
    max: 3600000,
    unit: 'ms',
    doc: 'timeout of one resource check; a hung check counts as DOWN and delays nothing else (0 = SUPERVISE_INT)',
    original: false,
  },
  FAIL_HOLDDOWN: {
    kind: 'int',
    default: '300',
    min: 0,
    max: 86400,
    unit: 's',
    doc: 'after its restarts failed, a node starts nothing for this long (or until "res start" / "on")',
    original: false,
  },
  OFF_PAUSE: {
    kind: 'int',
    default: '30',
    min: 1,
    max: 86400,
    unit: 's',
    doc: 'heartbeat pause after "off"',
    original: false,
  },
  BIND: {
    kind: 'string',
    default: '',
    doc: "address the receiver binds to (default: this node's address, or each HB_PATHS address; 0.0.0.0 or :: = all, one socket for every path)",
    original: false,
  },
  AUTHKEY: {
    kind: 'path',
    default: '',
    doc: 'key file of the authenticated heartbeat (one or two lines "<id> <hex key>", mode 0600; relative: to INSTALLDIR); empty = plain words as the original',
    original: false,
  },
  AUTH_MODE: {
    kind: 'string',
    default: '',
    doc: 'with AUTHKEY: enforce (default: only authenticated frames count) or permissive (plain words count too, for a rolling upgrade)',
    original: false,
  },
  NOTIFY: {
    kind: 'list',
    default: '',
    doc:
      'notify hooks: script names (looked up like resource scripts: INSTALLDIR/res, then the package res/), ' +
      'called in this order on every transition of this node with <new> <old> <reason>; empty = none',
    original: false,
  },
  NOTIFY_TIMEOUT: {
    kind: 'float',
    default: '10',
    min: 0.1,
    max: 3600,
    unit: 's',
    doc: 'timeout of one notify hook call; on expiry its whole process group is killed (the next call goes on)',
    original: false,
  },
  NICE: {
    kind: 'int',
    default: '0',
    min: -20,
    max: 19,
    doc:
      "the three daemons' scheduling priority (nice value; their scripts inherit it): below 0 they win the CPU from a busy " +
      'host, so a loaded machine does not stall a heartbeat past DEADTIME (needs root or CAP_SYS_NICE; -10 with the fast ' +
      'profiles, docs/config.md). 0 leaves the priority the daemons were started with',
    original: false,
  },
  SPLIT_YIELD: {
    kind: 'bool01',
    default: '0',
    doc:
      '1: the second in NODES yields to the first when the heartbeat is silent but the first answers for the resources ' +
      'on the LAN (its probe): a cut heartbeat path ends in one holder. 0: a second holder is only seen (alarm). ' +
      'The price of 1: a first node whose pha is stuck (frozen) while its kernel answers ARP keeps the address',
    original: false,
  },
  METRICS: {
    kind: 'string',
    default: '',
    doc:
      'where supervise serves Prometheus metrics at /metrics: <address>:<port> (127.0.0.1:9464; 0.0.0.0 or [::] for all); ' +
      'empty = none. A malformed value or an address in use at start is a config error',
    original: false,
  },
  WITNESS: {
    kind: 'string',
    default: '',
    doc:
      'an etcd witness as the tie-break (rule 13): etcd://<host>:<port>[,<host>:<port>…] (etcds:// for TLS; IPv6 hosts in brackets). ' +
      'A node takes over only while it holds the lock (a key bound to its lease). Empty = no witness',
    original: false,
  },
  WITNESS_PREFIX: {
    kind: 'string',
    default: '',
    doc: 'the key prefix of this pair in etcd (the lock is <prefix>holder); default /pha/<node1>,<node2>/',
    original: false,
  },
  WITNESS_TTL: {
    kind: 'int',
    default: '2',
    min: 1,
    max: 60,
    unit: 's',
    doc: "the lease TTL; etcd refuses less than about 1.5 × its election timeout (2 s with etcd's defaults, 1 s with --election-timeout 500)",
    original: false,
  },
  WITNESS_CA: {
    kind: 'path',
    default: '',
    doc: "etcds://: the CA that signed etcd's certificate (PEM)",
    original: false,
  },
  WITNESS_CERT: {
    kind: 'path',
    default: '',
    doc: 'etcds://: a client certificate (PEM), with WITNESS_KEY',
    original: false,
  },
  WITNESS_KEY: {
    kind: 'path',
    default: '',
    doc: "the client certificate's private key (PEM, mode 0600)",
    original: false,
  },
  WITNESS_USER: { kind: 'string', default: '', doc: 'etcd user (with WITNESS_PASSWORD_FILE)', original: false },
  WITNESS_PASSWORD_FILE: {
    kind: 'path',
    default: '',
    doc: "a file holding the etcd user's password (one line, owned by root, mode 0600)",
    original: false,
  },
  HB_PATHS: {
    kind: 'string',
    default: '',
    doc:
      'several heartbeat paths: "<node1>:<addr>,<addr>… <node2>:<addr>,<addr>…", path i joins the i-th address of each ' +
      "(IPv4 literals, this node's own; at most 8). Every heartbeat goes out on every path; the peer is silent only when " +
      'all paths are silent for DEADTIME; a silent path is an alarm, never a failover. Empty = one path, the NODES names',
    original: false,
  },
  PEER_ADDR: {
    kind: 'list',
    default: '',
    doc: "extra source addresses accepted as the peer's (besides what its name resolves to)",
    original: false,
  },
};

/** Settings that share the resources' RES_ prefix: their names are no resource's (RES_TIMEOUT is a setting). */
export const RESERVED_RESOURCE_NAMES: readonly string[] = Object.keys(KEYS)
  .filter((k) => k.startsWith('RES_'))
  .map((k) => k.slice(4));

/** What to tell someone whose RES_<name> collides with a setting. */
export function reservedNote(key: string): string {
  return `${key} is a setting, not a resource: no resource may be called ${RESERVED_RESOURCE_NAMES.join(' or ')} (rename the script)`;
}
