export * from "./password";
export * from "./username";
export * from "./user-directory";
export * from "./rate-limit";
