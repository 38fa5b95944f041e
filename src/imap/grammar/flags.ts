import type { Token } from "../types";
export function parseFlagList(token: Token | Token[]): string[] { void token; throw new Error("not implemented"); }
