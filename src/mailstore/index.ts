export { createMailStore, LevelMailStore, type MailStoreOptions, type DurableOpListener } from "./mail-store";
export { LevelUserStore } from "./user-store";
export { LevelMailboxHandle } from "./mailbox-handle";
export { UserReplica, type Logger } from "./user-replica";
export { CommitQueue } from "./commit-queue";
export { storedUsers } from "./user-index";
