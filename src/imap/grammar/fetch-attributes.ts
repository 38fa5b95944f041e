import type { FetchAttribute, Token } from "../types";
export function parseFetchAttributes(tokens: Token[]): FetchAttribute[] { void tokens; throw new Error("not implemented"); }
