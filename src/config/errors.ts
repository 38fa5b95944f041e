// Errors in the cluster configuration. Every one names the key (a dotted path
// such as `nodes[2].admin`) and the problem, and maps to an exit code so a
// script can tell the kinds apart.

export type ConfigErrorKind =
  | "syntax" // the file is not valid YAML (duplicate keys included)
  | "unknown-key" // a key the schema does not have (also unknown CHARON_* variables)
  | "type" // the value has the wrong type
  | "value" // right type, bad value (bad role, bad host:port, out of range)
  | "missing" // a required key is absent, or no worker / no distributor
  | "duplicate" // two nodes with the same name, or the same host:port twice
  | "file" // a certificate or key file is missing or unreadable
  | "port-in-use"; // a port the node would bind is taken

/**
 * Exit codes per kind. 78 is EX_CONFIG from sysexits.h; the others sit just
 * below it so that each kind has its own code (issue 3 acceptance 6).
 */
export const CONFIG_EXIT_CODES: Readonly<Record<ConfigErrorKind, number>> = Object.freeze({
  syntax: 65, // EX_DATAERR
  "unknown-key": 70,
  type: 71,
  value: 72,
  missing: 73,
  duplicate: 74,
  file: 75,
  "port-in-use": 76,
});

export class ConfigError extends Error {
  /** Dotted path of the offending key, e.g. `nodes[2].admin`, or `env CHARON_X` for a variable. */
  readonly key: string;
  readonly problem: string;
  readonly kind: ConfigErrorKind;
  /** The configuration file, when known. */
  file?: string;

  constructor(key: string, problem: string, kind: ConfigErrorKind, file?: string) {
    super(file ? `${file}: ${key}: ${problem}` : `${key}: ${problem}`);
    this.name = "ConfigError";
    this.key = key;
    this.problem = problem;
    this.kind = kind;
    this.file = file;
  }

  get exitCode(): number {
    return CONFIG_EXIT_CODES[this.kind];
  }

  /** The same error, with the file name in front of the message. */
  inFile(file: string): ConfigError {
    return new ConfigError(this.key, this.problem, this.kind, file);
  }
}
