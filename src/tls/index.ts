export * from "./certs";
export * from "./cert-files";
export * from "./context";
export * from "./mtls";
export * from "./cluster-certs";
