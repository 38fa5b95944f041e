export * from "./certs";
export * from "./cert-files";
export * from "./context";
