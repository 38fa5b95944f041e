// AUTHENTICATE PLAIN (RFC 3501 §6.2.2, RFC 4616) with SASL-IR (RFC 4959).
import { NOT_AUTHENTICATED, bad, no, type CommandSpec } from "../dispatcher";
import { ProtocolError } from "../tokenizer";
import type { Token } from "../types";
import { atomArg, expectCount } from "./args";
import { completeLogin } from "./login";

export interface AuthenticateArgs {
  mechanism: string;
  /** Base64 initial response; "=" is an empty one (RFC 4959). */
  initial?: string;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Strict base64: anything else is a malformed response (BAD), not a failed login. */
export function decodeBase64(text: string): Buffer | undefined {
  if (!BASE64.test(text)) return undefined;
  return Buffer.from(text, "base64");
}

/** RFC 4616 message: [authzid] NUL authcid NUL passwd. */
export function parsePlain(data: Buffer): { authzid: string; authcid: string; password: string } | undefined {
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < data.length; i++) {
    if (data[i] === 0) {
      parts.push(data.subarray(start, i));
      start = i + 1;
    }
  }
  parts.push(data.subarray(start));
  if (parts.length !== 3) return undefined;
  const [authzid, authcid, password] = parts.map((p) => p.toString("utf8")) as [string, string, string];
  if (authcid.length === 0) return undefined;
  return { authzid, authcid, password };
}

export const authenticate: CommandSpec<AuthenticateArgs> = {
  name: "AUTHENTICATE",
  states: NOT_AUTHENTICATED,
  parse(args: Token[]) {
    expectCount(args, 1, 2, "mechanism name and optional initial response");
    const mechanism = atomArg(args[0], "mechanism name").toUpperCase();
    if (args.length === 1) return { mechanism };
    const initial = atomArg(args[1], "base64 initial response");
    if (initial !== "=" && !BASE64.test(initial)) throw new ProtocolError("Invalid base64 in initial response");
    return { mechanism, initial };
  },
  async handle(ctx, { mechanism, initial }) {
    if (!ctx.secure) return no("Use STARTTLS before authenticating", "PRIVACYREQUIRED");
    if (mechanism !== "PLAIN") return no(`Unsupported mechanism ${mechanism.slice(0, 20)}`, "CANNOT");
    let response = initial;
    if (response === undefined) {
      ctx.continuation("");
      const line = await ctx.readLine();
      if (line === null) return bad("Connection closed");
      if (line === "*") return bad("Authentication cancelled");
      response = line;
    }
    const data = response === "=" ? Buffer.alloc(0) : decodeBase64(response);
    if (!data) return bad("Invalid base64 response");
    const plain = parsePlain(data);
    if (!plain) return no("Malformed PLAIN response", "AUTHENTICATIONFAILED");
    if (plain.authzid !== "" && plain.authzid !== plain.authcid) {
      return no("Cannot act as another user", "AUTHORIZATIONFAILED");
    }
    return completeLogin(ctx, plain.authcid, plain.password);
  },
};
