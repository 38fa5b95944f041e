// `charon route USER --config FILE`: where the distributors send USER's
// sessions, computed exactly as they compute it (rendezvous hashing).
import { clusterRouter } from "../routing/home-worker-router";
import { ConfigError, loadClusterConfig } from "../config/cluster";
import { usernameProblem } from "../auth/username";
import { parseOrUsage, type CliIo } from "./args";
import { reportConfigError } from "./certs";
import { EXIT_OK, UsageError } from "./usage";

export const ROUTE_HELP = `Usage: charon route USER --config FILE

Prints where the distributors relay USER's sessions, as one line:
  user=USER home=WORKER fallbacks=STORAGE1,STORAGE2
The home worker serves the user while it is up; the fallbacks, in order, while
it is down. No node is contacted: this is the same hash the distributors run.
`;

export async function runRoute(argv: string[], io: CliIo, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values, positionals } = parseOrUsage({
    args: argv,
    options: { config: { type: "string" }, help: { type: "boolean", short: "h" } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    io.out(ROUTE_HELP.trimEnd());
    return EXIT_OK;
  }
  if (positionals.length !== 1) throw new UsageError("expected exactly one USER");
  const user = positionals[0];
  const problem = usernameProblem(user);
  if (problem) throw new UsageError(problem);
  const configFile = values.config ?? env.CHARON_CONFIG;
  if (!configFile) throw new UsageError("--config FILE is required");
  try {
    const router = clusterRouter(await loadClusterConfig(configFile, env));
    io.out(`user=${user} home=${router.homeOf(user)} fallbacks=${router.fallbacksOf(user).join(",")}`);
    return EXIT_OK;
  } catch (err) {
    if (err instanceof ConfigError) return reportConfigError(err, io);
    throw err;
  }
}
