export * from "./password";
export * from "./username";
export * from "./user-directory";
