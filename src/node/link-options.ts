// Mux options of every link between cluster nodes. A link behind a partition
// stays open until its heartbeat gives up: 3 missed PINGs 2 s apart let both
// ends notice within about 6 s (the library default, 30 s, is for WANs).
import type { MuxOptions } from "../link";

export const CLUSTER_LINK: Readonly<Omit<MuxOptions, "isServer">> = Object.freeze({
  heartbeatMs: 2_000,
  heartbeatMisses: 3,
});
