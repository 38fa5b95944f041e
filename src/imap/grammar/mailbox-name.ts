import type { Token } from "../types";
export function decodeMailboxName(token: Token): string { void token; throw new Error("not implemented"); }
export function encodeMailboxName(name: string): string { void name; throw new Error("not implemented"); }
