// Every command the session knows; the dispatcher looks them up by name.
import type { AnyCommandSpec } from "../dispatcher";
import { append } from "./append";
import { authenticate } from "./authenticate";
import { capability } from "./capability";
import { check } from "./check";
import { close } from "./close";
import { copy } from "./copy";
import { create } from "./create";
import { del } from "./delete";
import { enable } from "./enable";
import { expunge } from "./expunge";
import { fetch } from "./fetch";
import { id } from "./id";
import { idle } from "./idle";
import { list } from "./list";
import { login } from "./login";
import { logout } from "./logout";
import { lsub } from "./lsub";
import { move } from "./move";
import { namespace } from "./namespace";
import { noop } from "./noop";
import { rename } from "./rename";
import { search } from "./search";
import { examine, select } from "./select";
import { starttls } from "./starttls";
import { status } from "./status";
import { store } from "./store";
import { subscribe } from "./subscribe";
import { unselect } from "./unselect";
import { unsubscribe } from "./unsubscribe";

export const ALL_COMMANDS: readonly AnyCommandSpec[] = [
  capability, noop, logout, id, starttls, login, authenticate, enable,
  select, examine, create, del, rename, subscribe, unsubscribe, list, lsub, namespace, status, append, idle,
  check, close, unselect, expunge, search, fetch, store, copy, move,
];
