// A small offline renderer for the subset of Kustomize that deploy/k8s uses,
// so `npm test` can render and check the manifests without kubectl or
// kustomize. Anything outside the subset is an error, never silently ignored:
//
//   resources          YAML files (several documents each) and directories with a kustomization
//   namespace          set on every namespaced object (objects of a base keep theirs)
//   configMapGenerator files (KEY=PATH or PATH) and literals, with
//                      generatorOptions.disableNameSuffixHash: true (hash suffixes are not implemented)
//   patches            `path:` strategic merge patches, matched by apiVersion, kind, name
//                      (and namespace when the patch has one)
//
// YAML is read as YAML 1.1, as Kubernetes' own decoder does (0440 is octal there).
// `kubectl kustomize` renders the same objects (test/deploy.test.ts compares
// both when kubectl is installed).
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import YAML from "yaml";

export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  [k: string]: unknown;
};

export class RenderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RenderError";
  }
}

const KUSTOMIZATION_FILES = ["kustomization.yaml", "kustomization.yml", "Kustomization"];
const SUPPORTED_KEYS = new Set(["apiVersion", "kind", "namespace", "resources", "configMapGenerator", "generatorOptions", "patches"]);

/** Kinds this renderer treats as cluster-scoped (no namespace is set on them). */
const CLUSTER_SCOPED = new Set(["Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass", "CustomResourceDefinition", "PriorityClass"]);

export function parseYamlDocuments(text: string, source: string): unknown[] {
  const docs = YAML.parseAllDocuments(text, { version: "1.1", uniqueKeys: true });
  const out: unknown[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new RenderError(`${source}: ${doc.errors[0].message}`);
    const value = doc.toJS();
    if (value !== null && value !== undefined) out.push(value);
  }
  return out;
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function asObject(v: unknown, source: string): K8sObject {
  if (!isMapping(v) || typeof v.apiVersion !== "string" || typeof v.kind !== "string" || !isMapping(v.metadata) || typeof v.metadata.name !== "string") {
    throw new RenderError(`${source}: not a Kubernetes object (apiVersion, kind and metadata.name are required)`);
  }
  return v as K8sObject;
}

export function objectId(o: K8sObject): string {
  return `${o.kind}/${o.metadata.namespace ?? "_"}/${o.metadata.name}`;
}

function findKustomization(dir: string): string {
  for (const f of KUSTOMIZATION_FILES) {
    const p = path.join(dir, f);
    if (existsSync(p)) return p;
  }
  throw new RenderError(`${dir}: no kustomization.yaml`);
}

/** Renders the kustomization in `dir` to a list of objects, in resource order. */
export function renderKustomization(dir: string): K8sObject[] {
  const file = findKustomization(dir);
  const docs = parseYamlDocuments(readFileSync(file, "utf8"), file);
  if (docs.length !== 1 || !isMapping(docs[0])) throw new RenderError(`${file}: expected one mapping`);
  const k = docs[0];
  for (const key of Object.keys(k)) {
    if (!SUPPORTED_KEYS.has(key)) throw new RenderError(`${file}: "${key}" is not supported by kustomize-lite`);
  }
  if (k.kind !== undefined && k.kind !== "Kustomization") throw new RenderError(`${file}: kind must be Kustomization`);

  let objects: K8sObject[] = [];
  for (const entry of (k.resources as unknown[] | undefined) ?? []) {
    if (typeof entry !== "string") throw new RenderError(`${file}: resources entries must be strings`);
    const p = path.resolve(dir, entry);
    if (!existsSync(p)) throw new RenderError(`${file}: resource ${entry} does not exist`);
    if (statSync(p).isDirectory()) {
      objects.push(...renderKustomization(p));
    } else {
      objects.push(...parseYamlDocuments(readFileSync(p, "utf8"), p).map((d, i) => asObject(d, `${p}#${i}`)));
    }
  }

  const options = (k.generatorOptions ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(options)) {
    if (key !== "disableNameSuffixHash") throw new RenderError(`${file}: generatorOptions.${key} is not supported`);
  }
  const generators = (k.configMapGenerator as unknown[] | undefined) ?? [];
  if (generators.length > 0 && options.disableNameSuffixHash !== true) {
    throw new RenderError(`${file}: configMapGenerator needs generatorOptions.disableNameSuffixHash: true (name hashes are not implemented)`);
  }
  for (const g of generators) objects.push(generateConfigMap(g, dir, file));

  for (const p of (k.patches as unknown[] | undefined) ?? []) {
    if (!isMapping(p) || typeof p.path !== "string" || Object.keys(p).length !== 1) {
      throw new RenderError(`${file}: only "- path: FILE" strategic merge patches are supported`);
    }
    const patchFile = path.resolve(dir, p.path);
    for (const [i, doc] of parseYamlDocuments(readFileSync(patchFile, "utf8"), patchFile).entries()) {
      const patch = asObject(doc, `${patchFile}#${i}`);
      const matches = objects.filter(
        (o) =>
          o.apiVersion === patch.apiVersion &&
          o.kind === patch.kind &&
          o.metadata.name === patch.metadata.name &&
          (patch.metadata.namespace === undefined || patch.metadata.namespace === (o.metadata.namespace ?? k.namespace)),
      );
      if (matches.length !== 1) {
        throw new RenderError(`${patchFile}: patch for ${patch.kind}/${patch.metadata.name} matches ${matches.length} objects`);
      }
      const target = matches[0];
      objects = objects.map((o) => (o === target ? (strategicMerge(o, patch, []) as K8sObject) : o));
    }
  }

  if (typeof k.namespace === "string") {
    for (const o of objects) {
      if (!CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = k.namespace as string;
    }
  }
  const seen = new Set<string>();
  for (const o of objects) {
    const id = objectId(o);
    if (seen.has(id)) throw new RenderError(`${file}: ${id} is defined twice`);
    seen.add(id);
  }
  return objects;
}

function generateConfigMap(g: unknown, dir: string, file: string): K8sObject {
  if (!isMapping(g) || typeof g.name !== "string") throw new RenderError(`${file}: configMapGenerator entries need a name`);
  for (const key of Object.keys(g)) {
    if (!["name", "files", "literals"].includes(key)) throw new RenderError(`${file}: configMapGenerator.${key} is not supported`);
  }
  const data: Record<string, string> = {};
  for (const f of (g.files as string[] | undefined) ?? []) {
    const [key, rel] = f.includes("=") ? (f.split("=", 2) as [string, string]) : [path.basename(f), f];
    if (key in data) throw new RenderError(`${file}: key ${key} twice in ConfigMap ${g.name}`);
    data[key] = readFileSync(path.resolve(dir, rel), "utf8");
  }
  for (const l of (g.literals as string[] | undefined) ?? []) {
    const i = l.indexOf("=");
    if (i <= 0) throw new RenderError(`${file}: literal ${JSON.stringify(l)} is not KEY=VALUE`);
    data[l.slice(0, i)] = l.slice(i + 1);
  }
  return { apiVersion: "v1", kind: "ConfigMap", metadata: { name: g.name }, data };
}

// ---------------------------------------------------------------------------
// Strategic merge: mappings merge key by key (null deletes a key), lists with a
// merge key merge element by element, every other list is replaced.

/** Merge keys of the lists deploy/k8s patches, by field name (ports depend on the parent). */
function mergeKeysFor(field: string, parentPath: string[], sample: Record<string, unknown>): string[] | undefined {
  switch (field) {
    case "containers":
    case "initContainers":
    case "volumes":
    case "env":
      return ["name"];
    case "volumeMounts":
      return ["mountPath"];
    case "ports":
      // container ports: containerPort+protocol; Service ports: port+protocol
      return "containerPort" in sample || parentPath.includes("containers") || parentPath.includes("initContainers") ? ["containerPort", "protocol"] : ["port", "protocol"];
    default:
      return undefined;
  }
}

export function strategicMerge(base: unknown, patch: unknown, at: string[]): unknown {
  if (isMapping(patch)) {
    for (const key of Object.keys(patch)) {
      if (key.startsWith("$")) throw new RenderError(`patch directive ${key} at ${at.join(".") || "(root)"} is not supported`);
    }
    if (!isMapping(base)) return structuredClone(patch);
    const out: Record<string, unknown> = { ...base };
    for (const [key, value] of Object.entries(patch)) {
      if (value === null) delete out[key];
      else out[key] = key in base ? strategicMerge(base[key], value, [...at, key]) : structuredClone(value);
    }
    return out;
  }
  if (Array.isArray(patch)) {
    const field = at[at.length - 1] ?? "";
    const first = patch.find(isMapping);
    const keys = first ? mergeKeysFor(field, at.slice(0, -1), first) : undefined;
    if (!keys || !Array.isArray(base)) return structuredClone(patch);
    const out = [...base];
    for (const item of patch) {
      if (!isMapping(item)) throw new RenderError(`${at.join(".")}: list element is not a mapping`);
      for (const key of keys) {
        if (!(key in item)) throw new RenderError(`${at.join(".")}: patch element lacks the merge key ${key} (kustomize would drop or append it)`);
      }
      const i = out.findIndex((b) => isMapping(b) && keys.every((key) => b[key] === item[key]));
      if (i >= 0) out[i] = strategicMerge(out[i], item, [...at, String(i)]);
      else out.push(structuredClone(item));
    }
    return out;
  }
  return patch;
}
