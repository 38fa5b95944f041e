// RFC 3501 §7.4.2 ENVELOPE from the raw header values kept on a message root.

import { addressList } from "./address";
import type { MimeNode, Sexp } from "./types";

function nstring(value: string | undefined): string | null {
  return value === undefined || value === "" ? null : value;
}

export function envelope(root: MimeNode): Sexp {
  const f = root.envelope ?? {};
  const from = addressList(f.from);
  // RFC 3501: Sender and Reply-To that are absent or empty take the From value.
  const sender = addressList(f.sender) ?? from;
  const replyTo = addressList(f.replyTo) ?? from;
  return [
    nstring(f.date),
    nstring(f.subject),
    from,
    sender,
    replyTo,
    addressList(f.to),
    addressList(f.cc),
    addressList(f.bcc),
    nstring(f.inReplyTo),
    nstring(f.messageId),
  ];
}
