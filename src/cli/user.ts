// `charon user add|passwd|del|list`: edits the user directory, the `users`
// file of a cluster configuration (--config) or DIR/users.json (--data).
// Distributors watch the file and reload it; no restart is needed.
import path from "node:path";
import { randomPassword } from "../auth/password";
import { UserDirectory, UserDirectoryError } from "../auth/user-directory";
import { usernameProblem } from "../auth/username";
import { ConfigError, loadClusterConfig } from "../config/cluster";
import { dataPaths } from "../config/paths";
import { reportConfigError } from "./certs";
import { DEFAULT_DATA_DIR, parseOrUsage, type CliIo } from "./args";
import { EXIT_FAILURE, EXIT_OK, USER_HELP, UsageError } from "./usage";

const ACTIONS = ["add", "passwd", "del", "list"] as const;
type Action = (typeof ACTIONS)[number];

export interface UserCommand {
  help: boolean;
  action?: Action;
  dataDir: string;
  /** Cluster configuration whose `users` file is edited instead of DIR/users.json. */
  config?: string;
  name?: string;
  password?: string;
  passwordStdin: boolean;
}

export function parseUserArgs(argv: string[]): UserCommand {
  const { values, positionals } = parseOrUsage({
    args: argv,
    options: {
      data: { type: "string" },
      config: { type: "string" },
      password: { type: "string" },
      "password-stdin": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: true,
    strict: true,
  });
  const cmd: UserCommand = {
    help: values.help ?? false,
    dataDir: path.resolve(values.data ?? DEFAULT_DATA_DIR),
    config: values.config,
    password: values.password,
    passwordStdin: values["password-stdin"] ?? false,
  };
  if (cmd.help) return cmd;
  if (values.config !== undefined && values.data !== undefined) throw new UsageError("--config and --data are mutually exclusive");
  const [action, name, ...rest] = positionals;
  if (!action) throw new UsageError("missing action: add, passwd, del or list");
  if (!(ACTIONS as readonly string[]).includes(action)) throw new UsageError(`unknown action: ${action}`);
  cmd.action = action as Action;
  if (cmd.action === "list") {
    if (name !== undefined) throw new UsageError(`unexpected argument: ${name}`);
  } else {
    if (name === undefined) throw new UsageError(`${action} needs a user name`);
    if (rest.length > 0) throw new UsageError(`unexpected argument: ${rest[0]}`);
    const problem = usernameProblem(name);
    if (problem) throw new UsageError(problem);
    cmd.name = name;
  }
  const wantsPassword = cmd.action === "add" || cmd.action === "passwd";
  if ((cmd.password !== undefined || cmd.passwordStdin) && !wantsPassword) {
    throw new UsageError(`${action} takes no password`);
  }
  if (cmd.password !== undefined && cmd.passwordStdin) {
    throw new UsageError("--password and --password-stdin are mutually exclusive");
  }
  if (cmd.password === "") throw new UsageError("--password: empty password");
  return cmd;
}

/** The first line of stdin, without its line ending. */
function firstLine(text: string): string {
  const end = text.search(/\r?\n/);
  return end < 0 ? text : text.slice(0, end);
}

export async function runUser(argv: string[], io: CliIo, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const cmd = parseUserArgs(argv);
  if (cmd.help) {
    io.out(USER_HELP.trimEnd());
    return EXIT_OK;
  }
  let file = dataPaths(cmd.dataDir).usersFile;
  if (cmd.config !== undefined) {
    try {
      file = (await loadClusterConfig(cmd.config, env)).users;
    } catch (err) {
      if (err instanceof ConfigError) return reportConfigError(err, io);
      throw err;
    }
  }
  const directory = await UserDirectory.open(file);
  try {
    switch (cmd.action) {
      case "list":
        for (const name of directory.listUsers()) io.out(name);
        return EXIT_OK;
      case "del":
        await directory.deleteUser(cmd.name!);
        return EXIT_OK;
      case "add":
      case "passwd": {
        let password = cmd.password;
        let generated = false;
        if (cmd.passwordStdin) {
          password = firstLine(await io.readStdin());
          if (password.length === 0) throw new UsageError("empty password on stdin");
        } else if (password === undefined) {
          password = randomPassword();
          generated = true;
        }
        if (cmd.action === "add") await directory.addUser(cmd.name!, password);
        else await directory.setPassword(cmd.name!, password);
        if (generated) io.out(`user ${cmd.name} password ${password}`);
        return EXIT_OK;
      }
      default:
        throw new UsageError("missing action");
    }
  } catch (err) {
    if (err instanceof UserDirectoryError && err.code !== "CORRUPT") {
      io.err(`charon user: ${err.message}`);
      return EXIT_FAILURE;
    }
    throw err;
  }
}
