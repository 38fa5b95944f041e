import type { Token } from "../types";
export function astringValue(token: Token): string { void token; throw new Error("not implemented"); }
