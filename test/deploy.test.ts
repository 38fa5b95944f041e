// Offline checks of the container image recipe and the Kubernetes manifests
// (issue 5): no kubectl, kustomize, Docker or cluster is needed.
//
// - deploy/k8s is rendered by deploy/tools/kustomize-lite.ts (compared with
//   `kubectl kustomize` only when a kubectl happens to be installed);
// - every rendered object passes kubernetes-models@4 .validate() and a
//   TypeScript excess-property check against the models' interfaces, so a
//   misspelled field fails (negative cases below, on a broken copy of deploy/k8s);
// - cross-checks: selectors, headless Services, named ports, ConfigMap/Secret
//   references, and cluster.yaml against the workloads (node names = pod names);
// - a simulated pod file system per node (ConfigMap and Secrets written at their
//   mount paths, Secrets built by deploy/k8s/create-secrets.sh through a fake
//   kubectl) must pass charon's own start-time configuration and certificate checks;
// - the Dockerfile is parsed, linted with dockerfile-utils (hadolint is in
//   neither npm nor Debian) and checked against package.json and dist/.
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { validate as lintDockerfile } from "dockerfile-utils";
import { objectId, parseYamlDocuments, renderKustomization, RenderError, type K8sObject } from "../deploy/tools/kustomize-lite";
import { typeCheckObjects, validateObject } from "../deploy/tools/k8s-check";
import { loadClusterConfig, parseClusterConfig, type ClusterConfig } from "../src/config/cluster";
import { initClusterCerts } from "../src/tls/cluster-certs";

const ROOT = path.resolve(__dirname, "..");
const DEPLOY = path.join(ROOT, "deploy");
const K8S = path.join(DEPLOY, "k8s");
const BASE = path.join(K8S, "base");
const MINIKUBE = path.join(K8S, "overlays", "minikube");
const NAMESPACE = "charon";
const ADMIN_PORT_NAME = "admin";

// ---------------------------------------------------------------------------
// Small typed views of the rendered objects (the full types are checked by typeCheckObjects).

type Dict = Record<string, unknown>;
interface Port {
  name?: string;
  containerPort: number;
  protocol?: string;
}
interface Probe {
  httpGet?: { path: string; port: number | string };
}
interface Container {
  name: string;
  image: string;
  imagePullPolicy?: string;
  args?: string[];
  command?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }>;
  ports?: Port[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  resources?: { requests?: Dict; limits?: Dict };
  securityContext?: { runAsNonRoot?: boolean; readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean; capabilities?: { drop?: string[] } };
  volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean; subPath?: string }>;
}
interface Volume {
  name: string;
  configMap?: { name: string; items?: Array<{ key: string; path: string }> };
  secret?: { secretName: string; items?: Array<{ key: string; path: string }> };
  emptyDir?: Dict;
  persistentVolumeClaim?: { claimName: string };
}
interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes?: Volume[];
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; sysctls?: Array<{ name: string; value: string }> };
}
interface PodTemplate {
  metadata: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: PodSpec;
}
interface Workload extends K8sObject {
  spec: {
    replicas?: number;
    serviceName?: string;
    selector: { matchLabels?: Record<string, string>; matchExpressions?: unknown[] };
    template: PodTemplate;
    volumeClaimTemplates?: Array<{ metadata: { name: string } }>;
  };
}
interface Service extends K8sObject {
  spec: { type?: string; clusterIP?: string; selector?: Record<string, string>; ports: Array<{ name?: string; port: number; targetPort?: number | string; nodePort?: number; protocol?: string }> };
}

const WORKLOAD_KINDS = new Set(["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"]);
const workloads = (objs: K8sObject[]) => objs.filter((o) => WORKLOAD_KINDS.has(o.kind)) as Workload[];
const ofKind = <T extends K8sObject = K8sObject>(objs: K8sObject[], kind: string) => objs.filter((o) => o.kind === kind) as T[];
const allContainers = (w: Workload) => [...(w.spec.template.spec.initContainers ?? []), ...w.spec.template.spec.containers];
const labelsMatch = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) =>
  !!selector && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v);

/** Secrets the manifests mount without defining them: deploy/k8s/external-secrets.txt. */
function externalSecrets(): Map<string, { keys: string[]; roles: string[] }> {
  const out = new Map<string, { keys: string[]; roles: string[] }>();
  for (const line of readFileSync(path.join(K8S, "external-secrets.txt"), "utf8").split("\n")) {
    if (!line.trim() || line.startsWith("#")) continue;
    const [name, ...rest] = line.trim().split(/\s+/);
    const roles = rest.filter((w) => ["distributor", "worker", "storage"].includes(w));
    out.set(name, { keys: rest.filter((w) => !roles.includes(w)), roles });
  }
  return out;
}

function clusterYamlOf(objs: K8sObject[]): { configMap: K8sObject & { data: Record<string, string> }; text: string } {
  const configMap = ofKind<K8sObject & { data: Record<string, string> }>(objs, "ConfigMap").find((c) => c.metadata.name === "charon-config");
  if (!configMap) throw new Error("no ConfigMap charon-config");
  return { configMap, text: configMap.data["cluster.yaml"] };
}

/** The value following `flag` in a container's args, e.g. --config, --name. */
function argValue(c: Container, flag: string): string | undefined {
  const args = c.args ?? [];
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
}

/** Every problem found by the structural cross-checks; empty when the render is consistent. */
function crossCheck(objs: K8sObject[], opts: { overlay?: "minikube" } = {}): string[] {
  const problems: string[] = [];
  const p = (msg: string) => problems.push(msg);
  const services = ofKind<Service>(objs, "Service");
  const wls = workloads(objs);
  const configMaps = new Set(ofKind(objs, "ConfigMap").map((c) => c.metadata.name));
  const secrets = new Set(ofKind(objs, "Secret").map((c) => c.metadata.name));
  const external = externalSecrets();

  if (!objs.some((o) => o.kind === "Namespace" && o.metadata.name === NAMESPACE)) p(`no Namespace ${NAMESPACE}`);
  for (const o of objs) {
    if (o.kind !== "Namespace" && o.metadata.namespace !== NAMESPACE) p(`${objectId(o)} is not in namespace ${NAMESPACE}`);
  }

  for (const w of wls) {
    const id = objectId(w);
    const tpl = w.spec.template;
    const pod = tpl.spec;
    if (!labelsMatch(w.spec.selector.matchLabels, tpl.metadata.labels)) p(`${id}: selector does not match the pod template labels`);
    if (w.spec.selector.matchExpressions) p(`${id}: matchExpressions are not checked here; use matchLabels`);
    const ann = tpl.metadata.annotations ?? {};
    if (ann["prometheus.io/scrape"] !== "true" || !ann["prometheus.io/port"] || ann["prometheus.io/path"] !== "/metrics") p(`${id}: Prometheus scrape annotations missing`);
    if (pod.securityContext?.runAsNonRoot !== true) p(`${id}: pod securityContext.runAsNonRoot is not true`);
    if (!pod.securityContext?.runAsUser || pod.securityContext.runAsUser === 0) p(`${id}: runAsUser must be a non-zero uid`);

    const volumeNames = new Set([...(pod.volumes ?? []).map((v) => v.name), ...(w.spec.volumeClaimTemplates ?? []).map((t) => t.metadata.name)]);
    for (const v of pod.volumes ?? []) {
      if (v.configMap && !configMaps.has(v.configMap.name)) p(`${id}: volume ${v.name} names ConfigMap ${v.configMap.name}, which is not rendered`);
      if (v.secret && !secrets.has(v.secret.secretName) && !external.has(v.secret.secretName)) {
        p(`${id}: volume ${v.name} names Secret ${v.secret.secretName}, neither rendered nor listed in external-secrets.txt`);
      }
      if (v.persistentVolumeClaim) p(`${id}: volume ${v.name} uses a fixed PVC; use volumeClaimTemplates`);
    }
    for (const c of allContainers(w)) {
      const cid = `${id} container ${c.name}`;
      for (const m of c.volumeMounts ?? []) if (!volumeNames.has(m.name)) p(`${cid}: volumeMount ${m.name} has no volume`);
      const portNames = new Map((c.ports ?? []).filter((x) => x.name).map((x) => [x.name!, x.containerPort]));
      const portNumbers = new Set((c.ports ?? []).map((x) => x.containerPort));
      for (const [kind, probe] of [["readinessProbe", c.readinessProbe], ["livenessProbe", c.livenessProbe], ["startupProbe", c.startupProbe]] as const) {
        if (!probe) continue;
        const port = probe.httpGet?.port;
        if (port === undefined) p(`${cid}: ${kind} is not an httpGet probe`);
        else if (typeof port === "string" ? !portNames.has(port) : !portNumbers.has(port)) p(`${cid}: ${kind} port ${port} is not a container port`);
        else if (port !== ADMIN_PORT_NAME && port !== portNames.get(ADMIN_PORT_NAME)) p(`${cid}: ${kind} is not on the admin port`);
      }
      if (pod.containers.includes(c)) {
        if (c.readinessProbe?.httpGet?.path !== "/readyz") p(`${cid}: readinessProbe must GET /readyz`);
        if (c.livenessProbe?.httpGet?.path !== "/healthz") p(`${cid}: livenessProbe must GET /healthz`);
        if (String(portNames.get(ADMIN_PORT_NAME)) !== ann["prometheus.io/port"]) p(`${cid}: prometheus.io/port is not the admin port`);
        for (const r of ["cpu", "memory"]) {
          if (c.resources?.requests?.[r] === undefined) p(`${cid}: no ${r} request`);
          if (c.resources?.limits?.[r] === undefined) p(`${cid}: no ${r} limit`);
        }
        const sc = c.securityContext;
        if (sc?.readOnlyRootFilesystem !== true || sc.allowPrivilegeEscalation !== false || !sc.capabilities?.drop?.includes("ALL")) {
          p(`${cid}: needs readOnlyRootFilesystem, no privilege escalation and capabilities drop ALL`);
        }
        if (opts.overlay === "minikube" && c.imagePullPolicy !== "Never") p(`${cid}: imagePullPolicy must be Never in the minikube overlay`);
      }
      // env references $(VAR) in args must be defined
      for (const a of c.args ?? []) {
        for (const m of a.matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)) {
          if (!(c.env ?? []).some((e) => e.name === m[1])) p(`${cid}: args use $(${m[1]}) but no env ${m[1]} is defined`);
        }
      }
      for (const e of c.env ?? []) if (e.name.startsWith("CHARON_")) p(`${cid}: env ${e.name}: configuration belongs in cluster.yaml (charon refuses unknown CHARON_* names)`);
    }
    const pdbs = ofKind<K8sObject & { spec: { selector: { matchLabels?: Record<string, string> } } }>(objs, "PodDisruptionBudget").filter((b) =>
      labelsMatch(b.spec.selector.matchLabels, tpl.metadata.labels),
    );
    if (pdbs.length !== 1) p(`${id}: ${pdbs.length} PodDisruptionBudgets select its pods (want 1)`);

    if (w.kind === "StatefulSet") {
      const svc = services.find((s) => s.metadata.name === w.spec.serviceName);
      if (!svc) p(`${id}: serviceName ${w.spec.serviceName} names no Service`);
      else {
        if (svc.spec.clusterIP !== "None") p(`${id}: Service ${svc.metadata.name} is not headless (clusterIP: None)`);
        if (!labelsMatch(svc.spec.selector, tpl.metadata.labels)) p(`${id}: its headless Service does not select its pods`);
      }
      if (!(w.spec.volumeClaimTemplates ?? []).length) p(`${id}: no volumeClaimTemplates`);
    }
  }

  for (const pdb of ofKind<K8sObject & { spec: { selector: { matchLabels?: Record<string, string> } } }>(objs, "PodDisruptionBudget")) {
    if (!wls.some((w) => labelsMatch(pdb.spec.selector.matchLabels, w.spec.template.metadata.labels))) p(`${objectId(pdb)} selects no workload`);
  }
  for (const svc of services) {
    const selected = wls.filter((w) => labelsMatch(svc.spec.selector, w.spec.template.metadata.labels));
    if (selected.length === 0) p(`${objectId(svc)}: selector matches no pod template`);
    for (const port of svc.spec.ports) {
      const target = port.targetPort ?? port.port;
      for (const w of selected) {
        const ok = w.spec.template.spec.containers.some((c) => (c.ports ?? []).some((cp) => (typeof target === "string" ? cp.name === target : cp.containerPort === target)));
        if (!ok) p(`${objectId(svc)}: targetPort ${target} is not a port of ${objectId(w)}`);
      }
    }
  }
  return problems;
}

/** Problems between cluster.yaml (ConfigMap) and the workloads: node names = pod names, ports, mounts. */
function checkClusterConfig(objs: K8sObject[]): string[] {
  const problems: string[] = [];
  const p = (msg: string) => problems.push(msg);
  const { configMap, text } = clusterYamlOf(objs);
  const wls = workloads(objs);
  const services = ofKind<Service>(objs, "Service");
  const external = externalSecrets();
  const seenNodes = new Set<string>();

  for (const w of wls) {
    const c = w.spec.template.spec.containers.find((x) => x.name === "charon");
    if (!c) {
      p(`${objectId(w)}: no container named charon`);
      continue;
    }
    const role = c.args?.[0];
    if (!role || !["distributor", "worker", "storage"].includes(role)) {
      p(`${objectId(w)}: first argument must be the role, got ${role}`);
      continue;
    }
    // --config FILE: inside the ConfigMap mount
    const configFile = argValue(c, "--config");
    const cmVolume = (w.spec.template.spec.volumes ?? []).find((v) => v.configMap?.name === configMap.metadata.name);
    const cmMount = c.volumeMounts?.find((m) => m.name === cmVolume?.name);
    if (!configFile || !cmMount || configFile !== path.posix.join(cmMount.mountPath, "cluster.yaml")) {
      p(`${objectId(w)}: --config ${configFile} is not cluster.yaml in the mount of ConfigMap ${configMap.metadata.name}`);
      continue;
    }
    const config: ClusterConfig = parseClusterConfig(text, path.posix.dirname(configFile), {});

    // node names
    const nameArg = argValue(c, "--name");
    const podNameEnv = c.env?.find((e) => e.valueFrom?.fieldRef?.fieldPath === "metadata.name");
    let names: string[];
    if (w.kind === "StatefulSet") {
      if (!podNameEnv || nameArg !== `$(${podNameEnv.name})`) p(`${objectId(w)}: --name must be the pod name ($(POD_NAME) from metadata.name)`);
      names = Array.from({ length: w.spec.replicas ?? 1 }, (_, i) => `${w.metadata.name}-${i}`);
    } else {
      if (!nameArg || nameArg.includes("$(")) p(`${objectId(w)}: a ${w.kind} has no stable pod names; --name must be a fixed config entry`);
      names = nameArg ? [nameArg] : [];
    }
    const ofRole = config.nodes.filter((n) => n.role === role).map((n) => n.name);
    if (JSON.stringify([...ofRole].sort()) !== JSON.stringify([...names].sort())) {
      p(`${objectId(w)}: pods run as ${names.join(", ")} but cluster.yaml has ${role} nodes ${ofRole.join(", ")}`);
    }
    const ports = new Map((c.ports ?? []).filter((x) => x.name).map((x) => [x.name!, x.containerPort]));
    const mounts = c.volumeMounts ?? [];
    const mountFor = (file: string) => mounts.filter((m) => file.startsWith(m.mountPath + "/")).sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
    const volumeOf = (name: string) => (w.spec.template.spec.volumes ?? []).find((v) => v.name === name);
    const secretOf = (file: string) => {
      const m = mountFor(file);
      return m ? volumeOf(m.name)?.secret?.secretName : undefined;
    };
    for (const name of names) {
      seenNodes.add(name);
      const node = config.nodes.find((n) => n.name === name);
      if (!node) continue;
      const nid = `node ${name}`;
      if (node.admin?.port !== ports.get("admin")) p(`${nid}: admin port ${node.admin?.port} is not the container port admin (${ports.get("admin")})`);
      if (role === "distributor") {
        if (node.imaps?.port !== ports.get("imaps")) p(`${nid}: imaps port is not the container port imaps`);
        if (node.imap?.port !== ports.get("imap")) p(`${nid}: imap port is not the container port imap`);
      } else {
        const want = `${name}.${w.spec.serviceName}.${NAMESPACE}.svc.cluster.local`;
        if (node.internal?.host !== want) p(`${nid}: internal host ${node.internal?.host} is not the pod's DNS name ${want}`);
        if (node.internal?.port !== ports.get("internal")) p(`${nid}: internal port is not the container port internal`);
        const svc = services.find((s) => s.metadata.name === w.spec.serviceName);
        if (svc && !svc.spec.ports.some((sp) => sp.port === node.internal?.port)) p(`${nid}: headless Service does not list the internal port`);
      }
      // data: on a writable volume (emptyDir or the PVC template)
      const dm = mountFor(node.data);
      const dataVolume = dm && (volumeOf(dm.name)?.emptyDir || (w.spec.volumeClaimTemplates ?? []).some((t) => t.metadata.name === dm.name));
      if (!dm || dm.readOnly || !dataVolume) p(`${nid}: data ${node.data} is not on a writable emptyDir or PVC mount`);
      if (w.kind === "StatefulSet" && dm && !(w.spec.volumeClaimTemplates ?? []).some((t) => t.metadata.name === dm.name)) p(`${nid}: data is not on the PersistentVolumeClaim`);
    }
    // TLS material and users: files inside the right Secret mounts
    const need: Array<[string, string, string]> = [
      ["tls.ca", config.tls.ca, "charon-ca"],
      ["tls.nodeCerts", path.posix.join(config.tls.nodeCerts, "x.crt"), `charon-${role}-certs`],
    ];
    if (role === "distributor") {
      need.push(["tls.public.cert", config.tls.public.cert, "charon-public-tls"], ["tls.public.key", config.tls.public.key, "charon-public-tls"], ["users", config.users, "charon-users"]);
    }
    for (const [key, file, secret] of need) {
      const got = secretOf(file);
      if (got !== secret) p(`${objectId(w)}: ${key} (${file}) is in ${got ? `Secret ${got}` : "no Secret mount"}, want ${secret}`);
      else if (!external.get(secret)?.roles.includes(role)) p(`external-secrets.txt does not say ${secret} is mounted by ${role}`);
    }
    if (config.tls.caKey && mountFor(config.tls.caKey)) p(`${objectId(w)}: the CA private key must never be mounted`);
  }
  const { nodes } = parseClusterConfig(text, "/etc/charon/config", {});
  for (const n of nodes) if (!seenNodes.has(n.name)) p(`cluster.yaml node ${n.name} is run by no pod`);
  return problems;
}

async function checkModels(objs: K8sObject[]): Promise<string[]> {
  const problems: string[] = [];
  for (const o of objs) {
    const err = validateObject(o);
    if (err) problems.push(`${objectId(o)}: ${err}`);
  }
  for (const t of typeCheckObjects(objs, ROOT)) problems.push(`${t.index >= 0 ? objectId(objs[t.index]) : "(imports)"}: ${t.message}`);
  return problems;
}

// ---------------------------------------------------------------------------

describe("kustomize-lite renderer", () => {
  it("renders the base and the minikube overlay", () => {
    const base = renderKustomization(BASE);
    const kinds = base.map((o) => `${o.kind}/${o.metadata.name}`).sort();
    expect(kinds).toEqual(
      [
        "ConfigMap/charon-config",
        "Deployment/distributor",
        "Namespace/charon",
        "PodDisruptionBudget/distributor",
        "PodDisruptionBudget/storage",
        "PodDisruptionBudget/worker",
        "Service/distributor",
        "Service/storage",
        "Service/worker",
        "StatefulSet/storage",
        "StatefulSet/worker",
      ].sort(),
    );
    const overlay = renderKustomization(MINIKUBE);
    expect(overlay.map(objectId).sort()).toEqual(base.map(objectId).sort());
  });

  it("applies strategic merge patches by merge key and refuses what it does not implement", () => {
    const overlay = renderKustomization(MINIKUBE);
    const svc = overlay.find((o) => o.kind === "Service" && o.metadata.name === "distributor") as Service;
    expect(svc.spec.type).toBe("NodePort");
    // merged into the existing ports (targetPort kept), not appended
    expect(svc.spec.ports).toEqual([
      { name: "imaps", port: 993, protocol: "TCP", targetPort: "imaps", nodePort: 30993 },
      { name: "imap", port: 143, protocol: "TCP", targetPort: "imap", nodePort: 30143 },
    ]);
    const sts = overlay.find((o) => o.kind === "StatefulSet" && o.metadata.name === "worker") as Workload;
    const c = sts.spec.template.spec.containers[0];
    expect(c.imagePullPolicy).toBe("Never");
    expect(c.readinessProbe?.httpGet?.path).toBe("/readyz"); // kept from the base
    expect(sts.spec.template.spec.containers).toHaveLength(1);

    const dir = mkdtempSync(path.join(os.tmpdir(), "charon-kl-"));
    try {
      writeFileSync(path.join(dir, "kustomization.yaml"), "resources: [a.yaml]\nimages: [{name: charon, newTag: x}]\n");
      writeFileSync(path.join(dir, "a.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n");
      expect(() => renderKustomization(dir)).toThrow(/"images" is not supported/);
      writeFileSync(path.join(dir, "kustomization.yaml"), "resources: [a.yaml]\nconfigMapGenerator: [{name: b, literals: [x=1]}]\n");
      expect(() => renderKustomization(dir)).toThrow(/disableNameSuffixHash/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // Only where a kubectl happens to be installed (never needed by the test suite).
  const kubectl = spawnSync("kubectl", ["version", "--client"], { encoding: "utf8" }).status === 0;
  it.skipIf(!kubectl)("renders exactly what `kubectl kustomize` renders", () => {
    for (const dir of [BASE, MINIKUBE]) {
      const mine = Object.fromEntries(renderKustomization(dir).map((o) => [objectId(o), o]));
      const theirs = parseYamlDocuments(execFileSync("kubectl", ["kustomize", dir], { encoding: "utf8" }), "kubectl kustomize") as K8sObject[];
      expect(mine).toEqual(Object.fromEntries(theirs.map((o) => [objectId(o), o])));
    }
  });
});

describe.each([
  ["base", BASE, undefined],
  ["minikube overlay", MINIKUBE, "minikube" as const],
])("rendered manifests: %s", (_label, dir, overlay) => {
  let objs: K8sObject[];
  beforeAll(() => {
    objs = renderKustomization(dir);
  });

  it("every object validates against the kubernetes-models@4 schemas and types (no unknown fields)", async () => {
    expect(await checkModels(objs)).toEqual([]);
  });

  it("cross-checks: selectors, headless Services, named ports, probes, references, security, resources, PDBs", () => {
    expect(crossCheck(objs, { overlay })).toEqual([]);
  });

  it("cluster.yaml in the ConfigMap parses and its nodes are exactly the pods", () => {
    const { text } = clusterYamlOf(objs);
    expect(() => YAML.parse(text)).not.toThrow();
    expect(checkClusterConfig(objs)).toEqual([]);
    const config = parseClusterConfig(text, "/etc/charon/config", {});
    expect(config.nodes.map((n) => n.name)).toEqual(["distributor", "worker-0", "worker-1", "storage-0"]);
  });
});

describe("negative cases: broken manifests fail", () => {
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(path.join(os.tmpdir(), "charon-k8s-broken-"));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  /** A copy of deploy/k8s with one file edited; returns the render of its minikube overlay. */
  function brokenCopy(file: string, edit: (text: string) => string): K8sObject[] {
    const dir = mkdtempSync(path.join(work, "k8s-"));
    cpSync(K8S, dir, { recursive: true });
    const target = path.join(dir, file);
    const before = readFileSync(target, "utf8");
    const after = edit(before);
    expect(after).not.toBe(before);
    writeFileSync(target, after);
    return renderKustomization(path.join(dir, "overlays", "minikube"));
  }

  it("a misspelled field (readinesProbe) is rejected by the type check", async () => {
    const objs = brokenCopy("base/worker.yaml", (t) => t.replace("readinessProbe:", "readinesProbe:"));
    const problems = await checkModels(objs);
    expect(problems.join("\n")).toMatch(/StatefulSet\/charon\/worker: .*readinesProbe.* does not exist in type 'IContainer'/);
  });

  it("an unknown field in an overlay patch is rejected too", async () => {
    const objs = brokenCopy("overlays/minikube/service.yaml", (t) => t.replace("type: NodePort", "type: NodePort\n  externalTrafficPolice: Local"));
    expect((await checkModels(objs)).join("\n")).toMatch(/Service\/charon\/distributor: .*externalTrafficPolice/);
  });

  it("a wrong type (replicas: two) is rejected by the schema validation", async () => {
    const objs = brokenCopy("base/distributor.yaml", (t) => t.replace("replicas: 2", "replicas: two"));
    const problems = await checkModels(objs);
    expect(problems.join("\n")).toMatch(/Deployment\/charon\/distributor: .*replicas must be integer/);
  });

  it("a probe on a port that does not exist, a selector that misses, a missing Secret", () => {
    const probe = brokenCopy("base/storage.yaml", (t) => t.replace(/path: \/readyz\n(\s+)port: admin/, "path: /readyz\n$1port: metrics"));
    expect(crossCheck(probe).join("\n")).toMatch(/StatefulSet\/charon\/storage container charon: readinessProbe port metrics is not a container port/);
    const selector = brokenCopy("base/distributor.yaml", (t) => t.replace(/(selector:\n\s+matchLabels:\n\s+app.kubernetes.io\/name: charon\n\s+app.kubernetes.io\/component:) distributor/, "$1 distributer"));
    expect(crossCheck(selector).join("\n")).toMatch(/Deployment\/charon\/distributor: selector does not match/);
    const secret = brokenCopy("base/worker.yaml", (t) => t.replace("secretName: charon-worker-certs", "secretName: charon-workers-certs"));
    expect(crossCheck(secret).join("\n")).toMatch(/names Secret charon-workers-certs, neither rendered nor listed/);
  });

  it("a StatefulSet whose serviceName is not headless, and cluster.yaml out of step with the replicas", () => {
    const headless = brokenCopy("base/worker.yaml", (t) => t.replace(/\n\s+clusterIP: None/, ""));
    expect(crossCheck(headless).join("\n")).toMatch(/Service worker is not headless/);
    const scaled = brokenCopy("base/worker.yaml", (t) => t.replace("replicas: 2", "replicas: 3"));
    expect(checkClusterConfig(scaled).join("\n")).toMatch(/pods run as worker-0, worker-1, worker-2 but cluster.yaml has worker nodes worker-0, worker-1/);
    const host = brokenCopy("base/cluster.yaml", (t) => t.replace("internal: worker-1.worker.charon", "internal: worker-1.workers.charon"));
    expect(checkClusterConfig(host).join("\n")).toMatch(/node worker-1: internal host .* is not the pod's DNS name/);
  });

  it("the renderer refuses a patch that matches nothing and a list patch without its merge key", () => {
    expect(() => brokenCopy("overlays/minikube/worker.yaml", (t) => t.replace("name: worker", "name: workers"))).toThrow(RenderError);
    expect(() => brokenCopy("overlays/minikube/service.yaml", (t) => t.replace(/\n\s+protocol: TCP/g, ""))).toThrow(/lacks the merge key protocol/);
  });
});

describe("a simulated pod file system passes charon's own start checks", () => {
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(path.join(os.tmpdir(), "charon-k8s-pods-"));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("certs init + create-secrets.sh (fake kubectl) + mounts → every node loads its config and certificates", async () => {
    const objs = renderKustomization(MINIKUBE);
    const { text } = clusterYamlOf(objs);
    // 1. the operator's work directory, as deploy/README.md lays it out
    const op = path.join(work, "op");
    mkdirSync(path.join(op, "config"), { recursive: true });
    writeFileSync(path.join(op, "config", "cluster.yaml"), readFileSync(path.join(BASE, "cluster.yaml")));
    expect(readFileSync(path.join(op, "config", "cluster.yaml"), "utf8")).toBe(text);
    await initClusterCerts(await loadClusterConfig(path.join(op, "config", "cluster.yaml"), {}), { force: false });
    mkdirSync(path.join(op, "users"));
    writeFileSync(path.join(op, "users", "users.json"), "{}\n");

    // 2. deploy/k8s/create-secrets.sh with a kubectl that records the Secrets
    const bin = path.join(work, "bin");
    mkdirSync(bin);
    const log = path.join(work, "kubectl.log");
    writeFileSync(
      path.join(bin, "kubectl"),
      `#!/usr/bin/env node\nconst fs=require("fs");const a=process.argv.slice(2);\nif(a.includes("apply")){fs.readFileSync(0);process.exit(0)}\nfs.appendFileSync(${JSON.stringify(log)},JSON.stringify(a)+"\\n");\n`,
    );
    chmodSync(path.join(bin, "kubectl"), 0o755);
    const run = spawnSync("sh", [path.join(K8S, "create-secrets.sh"), op], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` }, encoding: "utf8" });
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    const secrets = new Map<string, Map<string, string>>();
    for (const line of readFileSync(log, "utf8").trim().split("\n")) {
      const a = JSON.parse(line) as string[];
      expect(a.slice(0, 4)).toEqual(["-n", "charon", "create", "secret"]);
      const files = new Map<string, string>();
      for (const arg of a) {
        let m = /^--from-file=([^=]+)=(.+)$/.exec(arg);
        if (m) files.set(m[1], m[2]);
        m = /^--(cert|key)=(.+)$/.exec(arg);
        if (m) files.set(m[1] === "cert" ? "tls.crt" : "tls.key", m[2]);
      }
      secrets.set(a[5], files);
    }
    const external = externalSecrets();
    expect([...secrets.keys()].sort()).toEqual([...external.keys()].sort());
    expect([...secrets.get("charon-worker-certs")!.keys()].sort()).toEqual(["worker-0.crt", "worker-0.key", "worker-1.crt", "worker-1.key"]);
    expect([...secrets.get("charon-distributor-certs")!.keys()].sort()).toEqual(["distributor.crt", "distributor.key"]);

    // 3. per pod: ConfigMap and Secrets at their mount paths, then charon's start-time checks
    const configMaps = new Map(ofKind<K8sObject & { data: Record<string, string> }>(objs, "ConfigMap").map((c) => [c.metadata.name, c.data]));
    let checked = 0;
    for (const w of workloads(objs)) {
      const c = w.spec.template.spec.containers[0];
      const podNames = w.kind === "StatefulSet" ? Array.from({ length: w.spec.replicas ?? 1 }, (_, i) => `${w.metadata.name}-${i}`) : [argValue(c, "--name")!];
      for (const pod of podNames) {
        const root = path.join(work, "pods", pod);
        for (const m of c.volumeMounts ?? []) {
          const v = (w.spec.template.spec.volumes ?? []).find((x) => x.name === m.name);
          const dir = path.join(root, m.mountPath);
          mkdirSync(dir, { recursive: true });
          if (v?.configMap) for (const [k, data] of Object.entries(configMaps.get(v.configMap.name)!)) writeFileSync(path.join(dir, k), data);
          if (v?.secret) for (const [k, src] of secrets.get(v.secret.secretName)!) writeFileSync(path.join(dir, k), readFileSync(src));
        }
        const configFile = path.join(root, argValue(c, "--config")!);
        const config = await loadClusterConfig(configFile, {}, { nodeName: pod }); // throws a ConfigError naming the problem
        expect(config.nodes.find((n) => n.name === pod)?.role).toBe(c.args![0]);
        if (c.args![0] === "distributor") expect(existsSync(config.users)).toBe(true);
        // a worker pod holds no key of another role
        const nodeDir = config.tls.nodeCerts;
        for (const f of readdirSync(nodeDir)) expect(f.startsWith(c.args![0])).toBe(true);
        checked++;
      }
    }
    expect(checked).toBe(4);
  });
});

describe("external Secrets and the README", () => {
  it("every external Secret is mounted, and deploy/README.md names each", () => {
    const readme = readFileSync(path.join(DEPLOY, "README.md"), "utf8");
    const objs = renderKustomization(BASE);
    const mounted = new Set(workloads(objs).flatMap((w) => (w.spec.template.spec.volumes ?? []).flatMap((v) => (v.secret ? [v.secret.secretName] : []))));
    for (const name of externalSecrets().keys()) {
      expect(mounted.has(name), `${name} is listed but mounted nowhere`).toBe(true);
      expect(readme.includes(name), `deploy/README.md does not mention ${name}`).toBe(true);
    }
    for (const cmd of ["minikube image build", "kubectl apply -k deploy/k8s/overlays/minikube", "minikube service", "/metrics", "main.js user add", "certs init"]) {
      expect(readme.includes(cmd), `deploy/README.md lacks "${cmd}"`).toBe(true);
    }
  });
});

// ---------------------------------------------------------------------------
// The container image recipe

interface DockerInstruction {
  keyword: string;
  args: string;
  line: number;
}

/** Minimal Dockerfile reader: comments, line continuations, one instruction per logical line. */
function parseDockerfile(text: string): DockerInstruction[] {
  const out: DockerInstruction[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i];
    if (/^\s*(#|$)/.test(line)) continue;
    while (/\\\s*$/.test(line) && i + 1 < lines.length) {
      i++;
      if (/^\s*#/.test(lines[i])) continue;
      line = line.replace(/\\\s*$/, " ") + lines[i].trim();
    }
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`Dockerfile line ${start + 1}: cannot parse ${JSON.stringify(line)}`);
    out.push({ keyword: m[1].toUpperCase(), args: m[2].trim(), line: start + 1 });
  }
  return out;
}

function stages(instructions: DockerInstruction[]): Array<{ from: string; name?: string; body: DockerInstruction[] }> {
  const out: Array<{ from: string; name?: string; body: DockerInstruction[] }> = [];
  for (const ins of instructions) {
    if (ins.keyword === "FROM") {
      const [image, as, name] = ins.args.split(/\s+/);
      out.push({ from: image, name: as?.toUpperCase() === "AS" ? name : undefined, body: [] });
    } else if (out.length) out[out.length - 1].body.push(ins);
  }
  return out;
}

describe("deploy/Dockerfile", () => {
  const text = readFileSync(path.join(DEPLOY, "Dockerfile"), "utf8");
  const instructions = parseDockerfile(text);
  const args = new Map(instructions.filter((i) => i.keyword === "ARG" && instructions.indexOf(i) < instructions.findIndex((x) => x.keyword === "FROM")).map((i) => i.args.split("=", 2) as [string, string]));
  const resolve = (s: string) => s.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a, b) => args.get(a ?? b) ?? "");
  const st = stages(instructions);
  const final = st[st.length - 1];
  const build = st.find((s) => s.body.some((i) => i.keyword === "RUN" && /npm run build/.test(i.args)));
  const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string; bin: Record<string, string>; scripts: Record<string, string> };

  it("lints clean with dockerfile-utils (hadolint is not installable from npm or Debian)", () => {
    expect(lintDockerfile(text).map((d) => `line ${d.range.start.line + 1}: ${d.message}`)).toEqual([]);
    // the linter does find problems
    expect(lintDockerfile("FROM node:20\nEXPOSE abc\nCMD a\nCMD b\n").length).toBeGreaterThanOrEqual(2);
  });

  it("is multi-stage on node:20-bookworm-slim: npm ci + npm run build, then a pruned runtime", () => {
    expect(st.length).toBeGreaterThanOrEqual(2);
    for (const s of st) expect(resolve(s.from)).toBe("node:20-bookworm-slim");
    expect(build).toBeDefined();
    expect(build).not.toBe(final);
    const runs = build!.body.filter((i) => i.keyword === "RUN").map((i) => i.args).join("\n");
    expect(runs).toMatch(/npm ci\b/);
    expect(runs).toMatch(/npm run build/);
    expect(runs).toMatch(/npm prune --omit=dev|npm ci --omit=dev/);
    expect(pkg.scripts.build).toMatch(/^tsc -p tsconfig.build.json$/);
    // the runtime copies dist and node_modules from the build stage, and never builds
    const copies = final.body.filter((i) => i.keyword === "COPY").map((i) => i.args);
    expect(copies.some((c) => c.startsWith(`--from=${build!.name} `) && /\/app\/dist\b/.test(c))).toBe(true);
    expect(copies.some((c) => c.startsWith(`--from=${build!.name} `) && /\/app\/node_modules\b/.test(c))).toBe(true);
    expect(final.body.some((i) => i.keyword === "RUN" && /npm (ci|install|run)/.test(i.args))).toBe(false);
  });

  it("runs as a non-root user with charon as the entrypoint", () => {
    const users = final.body.filter((i) => i.keyword === "USER");
    expect(users.length).toBeGreaterThan(0);
    const user = users[users.length - 1].args.split(":")[0];
    expect(["0", "root", ""]).not.toContain(user);
    const entry = final.body.filter((i) => i.keyword === "ENTRYPOINT").pop();
    expect(JSON.parse(entry!.args)).toEqual(["node", `/app/${pkg.bin.charon}`]);
    expect(pkg.bin.charon).toBe("dist/src/cli/main.js");
    // the manifests run as that uid
    const uid = Number(user);
    for (const w of workloads(renderKustomization(BASE))) expect(w.spec.template.spec.securityContext?.runAsUser).toBe(uid);
  });

  it("exposes the client ports and every container port the manifests use", () => {
    const exposed = new Set(final.body.filter((i) => i.keyword === "EXPOSE").flatMap((i) => i.args.split(/\s+/).map((p) => Number(p.split("/")[0]))));
    expect(exposed.has(993) && exposed.has(143)).toBe(true);
    for (const w of workloads(renderKustomization(BASE))) for (const c of w.spec.template.spec.containers) for (const p of c.ports ?? []) expect(exposed.has(p.containerPort)).toBe(true);
  });

  it("its build context keeps the sources the build compiles and drops local data", () => {
    const ignore = readFileSync(path.join(ROOT, ".dockerignore"), "utf8").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
    for (const must of ["node_modules", "dist", ".git", ".charon", "bench/results"]) expect(ignore).toContain(must);
    const buildConfig = JSON.parse(readFileSync(path.join(ROOT, "tsconfig.build.json"), "utf8")) as { include: string[] };
    for (const dir of [...buildConfig.include, "package.json", "package-lock.json", "tsconfig.json", "tsconfig.build.json"]) {
      expect(ignore, `${dir} is needed by the build`).not.toContain(dir);
    }
  });

  it("builds the dist/ the tests use: dist/src/cli/main.js prints the package version", () => {
    const main = path.join(ROOT, pkg.bin.charon);
    expect(existsSync(main), "run npm run build first (npm test does)").toBe(true);
    const out = execFileSync(process.execPath, [main, "--version"], { encoding: "utf8" });
    expect(out.trim()).toBe(pkg.version);
  });

  it("the image tag in the manifests is the one deploy/README.md builds", () => {
    const readme = readFileSync(path.join(DEPLOY, "README.md"), "utf8");
    const images = new Set(workloads(renderKustomization(MINIKUBE)).flatMap((w) => allContainers(w).map((c) => c.image)));
    expect(images.size).toBe(1);
    const [image] = images;
    expect(readme).toContain(`minikube image build -t ${image} -f deploy/Dockerfile .`);
  });
});
