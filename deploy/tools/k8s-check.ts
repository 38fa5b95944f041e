// Offline checks of rendered Kubernetes objects with kubernetes-models@4:
//
//   validateObject(o)     the model's .validate() (the bundled OpenAPI schema via ajv):
//                         types, required fields, enums; it does NOT reject unknown fields
//   typeCheckObjects(os)  every object as a typed object literal, checked by the
//                         TypeScript compiler against the models' interfaces, so an
//                         unknown (misspelled) field at any depth is an error
//                         ("Object literal may only specify known properties")
import path from "node:path";
import ts from "typescript";
import type { K8sObject } from "./kustomize-lite";

/** "kubernetes-models/apps/v1/StatefulSet" for apps/v1 StatefulSet, "kubernetes-models/v1/Service" for v1 Service. */
export function modelModule(apiVersion: string, kind: string): string {
  if (!/^[A-Za-z0-9.]+(\/[A-Za-z0-9]+)?$/.test(apiVersion) || !/^[A-Za-z]+$/.test(kind)) throw new Error(`bad apiVersion/kind ${apiVersion} ${kind}`);
  return `kubernetes-models/${apiVersion}/${kind}`;
}

interface ModelCtor {
  new (data: unknown): { validate(): void; toJSON(): unknown };
}

/** Runs the model's schema validation; returns the problem, or undefined when valid. */
export function validateObject(o: K8sObject): string | undefined {
  let ctor: ModelCtor | undefined;
  try {
    ctor = (require(modelModule(o.apiVersion, o.kind)) as Record<string, ModelCtor>)[o.kind];
  } catch {
    return `no kubernetes-models model for ${o.apiVersion} ${o.kind}`;
  }
  if (!ctor) return `no kubernetes-models model for ${o.apiVersion} ${o.kind}`;
  try {
    new ctor(o).validate();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

export interface TypeProblem {
  /** Index of the object in the input. */
  index: number;
  message: string;
}

/**
 * Type-checks each object as `const oN: I<Kind> = <object literal>` in one
 * in-memory TypeScript program (resolved from `projectDir`'s node_modules).
 */
export function typeCheckObjects(objects: K8sObject[], projectDir: string): TypeProblem[] {
  const file = path.join(projectDir, "deploy", "tools", "__rendered_manifests__.ts");
  const lines: string[] = [];
  const starts: number[] = [];
  let text = "";
  objects.forEach((o, i) => {
    lines.push(`import type { I${o.kind} as T${i} } from ${JSON.stringify(modelModule(o.apiVersion, o.kind))};`);
  });
  text = lines.join("\n") + "\n";
  objects.forEach((o, i) => {
    starts.push(text.length);
    text += `export const o${i}: T${i} = ${JSON.stringify(o, null, 2)};\n`;
  });
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.Node16,
    moduleResolution: ts.ModuleResolutionKind.Node16,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  const readFile = host.readFile.bind(host);
  host.getSourceFile = (name, lang, onError, create) =>
    path.resolve(name) === file ? ts.createSourceFile(name, text, lang, true) : getSourceFile(name, lang, onError, create);
  host.fileExists = (name) => path.resolve(name) === file || fileExists(name);
  host.readFile = (name) => (path.resolve(name) === file ? text : readFile(name));
  const program = ts.createProgram([file], options, host);
  const sf = program.getSourceFile(file)!;
  const diagnostics = [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)];
  return diagnostics.map((d) => {
    const start = d.start ?? 0;
    let index = -1;
    for (let i = 0; i < starts.length; i++) if (starts[i] <= start) index = i;
    const where = d.start !== undefined ? sf.getLineAndCharacterOfPosition(d.start) : undefined;
    const snippet = where ? text.split("\n")[where.line].trim() : "";
    return { index, message: `${ts.flattenDiagnosticMessageText(d.messageText, "\n")} (at ${snippet})` };
  });
}
