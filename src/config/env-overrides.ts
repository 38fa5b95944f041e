// Environment overrides of single configuration keys.
//
//   CHARON_<SEGMENT>[__<SEGMENT>...]=value
//
// Segments are separated by a double underscore and matched case-insensitively
// against the schema's key names; under NODES the next segment is a node name
// (exact match first, then case-insensitive), e.g.
//
//   CHARON_LOGLEVEL=debug
//   CHARON_LIMITS__MAXAPPENDSIZE=1000
//   CHARON_TLS__PUBLIC__CERT=/etc/charon/public.crt
//   CHARON_NODES__worker-1__ADMIN=127.0.0.1:9999
//
// Values are numbers where the schema says number and strings otherwise; the
// usual validation runs afterwards, so a bad value is refused like one in the
// file. Paths given in the environment resolve against the config file's
// directory, like paths in the file.
//
// A CHARON_* variable that is not a configuration path is an error (a typo
// would otherwise be ignored silently), except the variables below that other
// parts of charon read for themselves.
import { ConfigError } from "./errors";
import { CLUSTER_SPEC, NODE_SPEC, type Spec } from "./schema";

export const ENV_PREFIX = "CHARON_";

/** CHARON_* variables that are not configuration paths and are left alone. */
export const NON_CONFIG_ENV_VARS: readonly string[] = [
  "CHARON_LOG_LEVEL", // log level of `charon dev` (single node) when --log-level is absent
  "CHARON_CONFIG", // default --config for commands that take one
  "CHARON_NODE", // default --name
  "CHARON_DATA", // default --data
  "CHARON_E2E_CLI", // tests: the CLI build under test
];
/** Prefixes of variables reserved for tests and tooling. */
export const NON_CONFIG_ENV_PREFIXES: readonly string[] = ["CHARON_E2E_", "CHARON_TEST_", "CHARON_DEV_"];

function isNonConfig(name: string): boolean {
  return NON_CONFIG_ENV_VARS.includes(name) || NON_CONFIG_ENV_PREFIXES.some((p) => name.startsWith(p));
}

function findKey(fields: Record<string, unknown>, segment: string): string | undefined {
  return Object.keys(fields).find((k) => k.toLowerCase() === segment.toLowerCase());
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function convert(spec: Spec, value: string, envKey: string): unknown {
  if (spec.t === "int") {
    if (!/^-?\d+$/.test(value.trim())) throw new ConfigError(envKey, `expected a number, got ${JSON.stringify(value)}`, "type");
    return Number(value.trim());
  }
  return value;
}

export interface EnvOverrideResult {
  /** The raw configuration with the overrides applied (a copy; the input is not modified). */
  raw: unknown;
  /** Dotted config keys that were overridden, e.g. `limits.maxAppendSize`, `nodes[1].admin`. */
  applied: string[];
}

/** Applies CHARON_* overrides to the parsed YAML before validation. */
export function applyEnvOverrides(rawIn: unknown, env: NodeJS.ProcessEnv): EnvOverrideResult {
  const raw: unknown = rawIn === undefined || rawIn === null ? {} : structuredClone(rawIn);
  const applied: string[] = [];
  const names = Object.keys(env)
    .filter((n) => n.startsWith(ENV_PREFIX) && env[n] !== undefined)
    .sort();
  for (const name of names) {
    if (isNonConfig(name)) continue;
    const value = env[name] as string;
    const envKey = `env ${name}`;
    const segments = name.slice(ENV_PREFIX.length).split("__");
    if (!isMapping(raw)) return { raw, applied }; // validation reports the bad top level
    let fields: Record<string, Spec> = CLUSTER_SPEC;
    let target: Record<string, unknown> = raw;
    let dotted = "";
    for (let i = 0; i < segments.length; i++) {
      const seg = segments[i];
      const last = i === segments.length - 1;
      const key = findKey(fields, seg);
      if (!key) {
        throw new ConfigError(envKey, `not a configuration key: ${JSON.stringify(seg)} (known here: ${Object.keys(fields).join(", ")})`, "unknown-key");
      }
      const spec = fields[key];
      dotted = dotted ? `${dotted}.${key}` : key;
      if (spec.t === "object") {
        if (last) throw new ConfigError(envKey, `${dotted} is a section; set one of its keys with ${name}__KEY`, "unknown-key");
        if (target[key] === undefined || target[key] === null) target[key] = {};
        if (!isMapping(target[key])) throw new ConfigError(dotted, "expected a mapping", "type");
        target = target[key] as Record<string, unknown>;
        fields = spec.fields;
        continue;
      }
      if (spec.t === "nodes") {
        if (segments.length !== i + 3) {
          throw new ConfigError(envKey, `expected CHARON_NODES__<node name>__<KEY>`, "unknown-key");
        }
        const nodes = target[key];
        if (!Array.isArray(nodes)) throw new ConfigError(envKey, "the configuration has no nodes list to override", "missing");
        const nodeName = segments[i + 1];
        let index = nodes.findIndex((n) => isMapping(n) && n.name === nodeName);
        if (index < 0) index = nodes.findIndex((n) => isMapping(n) && typeof n.name === "string" && n.name.toLowerCase() === nodeName.toLowerCase());
        if (index < 0) throw new ConfigError(envKey, `no node named ${JSON.stringify(nodeName)}`, "unknown-key");
        const nodeKey = findKey(NODE_SPEC, segments[i + 2]);
        if (!nodeKey) throw new ConfigError(envKey, `not a node key: ${JSON.stringify(segments[i + 2])} (known: ${Object.keys(NODE_SPEC).join(", ")})`, "unknown-key");
        if (nodeKey === "name") throw new ConfigError(envKey, "a node's name cannot be overridden (it selects the node)", "value");
        (nodes[index] as Record<string, unknown>)[nodeKey] = convert(NODE_SPEC[nodeKey], value, envKey);
        applied.push(`nodes[${index}].${nodeKey}`);
        break;
      }
      if (!last) throw new ConfigError(envKey, `${dotted} is not a section`, "unknown-key");
      target[key] = convert(spec, value, envKey);
      applied.push(dotted);
    }
  }
  return { raw, applied };
}
