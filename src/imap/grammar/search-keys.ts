import type { SearchKey, Token } from "../types";
export function parseSearchProgram(tokens: Token[]): { charset?: string; key: SearchKey } { void tokens; throw new Error("not implemented"); }
