// LOGIN (RFC 3501 §6.2.3). Refused outright on an unencrypted connection
// (LOGINDISABLED is advertised there), before the password is looked at.
import { NOT_AUTHENTICATED, no, ok, type CommandContext, type CommandSpec, type Reply } from "../dispatcher";
import { astringValue } from "../grammar/tokens";
import type { Token } from "../types";
import { expectCount } from "./args";

export interface Credentials {
  user: string;
  password: string;
}

/** Shared by LOGIN and AUTHENTICATE: check, enter the authenticated state, answer with capabilities. */
export async function completeLogin(ctx: CommandContext, user: string, password: string): Promise<Reply> {
  let accepted = false;
  try {
    accepted = user.length > 0 && (await ctx.authenticate(user, password));
  } catch (err) {
    ctx.log.error({ err }, "authenticator failed");
    return no("Authentication temporarily unavailable", "UNAVAILABLE");
  }
  if (!accepted) {
    ctx.log.info({ user }, "authentication failed");
    return no("Authentication failed", "AUTHENTICATIONFAILED");
  }
  try {
    await ctx.login(user);
  } catch (err) {
    // The password was right but the user's mail cannot be reached (store or home node down).
    ctx.log.warn({ err, user }, "login accepted but the mailbox store is unavailable");
    return no("Mail store temporarily unavailable, try again later", "UNAVAILABLE");
  }
  ctx.log.info({ user }, "logged in");
  return ok("Logged in", `CAPABILITY ${ctx.capabilities().join(" ")}`);
}

export const login: CommandSpec<Credentials> = {
  name: "LOGIN",
  states: NOT_AUTHENTICATED,
  parse(args: Token[]) {
    expectCount(args, 2, 2, "user name and password");
    return { user: astringValue(args[0]!), password: astringValue(args[1]!) };
  },
  async handle(ctx, { user, password }) {
    if (!ctx.secure) return no("Use STARTTLS before logging in", "PRIVACYREQUIRED");
    return completeLogin(ctx, user, password);
  },
};
