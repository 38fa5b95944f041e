/** Test messages as CRLF byte strings, built so their structure is known exactly. */

export function crlf(lines: string[]): string {
  return lines.join("\r\n");
}

export function simpleMessage(opts: { from?: string; to?: string; subject: string; body: string; date?: string; extraHeaders?: string[] }): string {
  return crlf([
    `From: ${opts.from ?? "Sender One <sender@example.org>"}`,
    `To: ${opts.to ?? "Alice <alice@example.com>"}`,
    `Subject: ${opts.subject}`,
    `Date: ${opts.date ?? "Mon, 7 Feb 1994 21:52:25 -0800"}`,
    `Message-ID: <${opts.subject.replace(/[^A-Za-z0-9]/g, "")}.${Math.abs(hash(opts.body))}@example.org>`,
    ...(opts.extraHeaders ?? []),
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "",
    opts.body,
    "",
  ]);
}

function hash(s: string): number {
  let h = 0;
  for (const c of s) h = (h * 31 + c.charCodeAt(0)) | 0;
  return h;
}

export const ATTACHMENT_BYTES = Buffer.from("%PDF-1.4 fake attachment bytes\x00\x01\x02\xff end", "latin1");

/**
 * multipart/mixed
 *   1   text/plain (quoted-printable, "Grüße")
 *   2   application/pdf attachment (base64, filename report.pdf)
 *   3   message/rfc822
 *   3.1   (the inner message is multipart/alternative)
 *   3.1.1 text/plain  3.1.2 text/html
 */
export function multipartMessage(): string {
  const inner = crlf([
    "From: Inner Person <inner@example.net>",
    "To: Someone <someone@example.net>",
    "Subject: Inner subject",
    "Date: Tue, 1 Mar 2022 10:00:00 +0000",
    "Message-ID: <inner-1@example.net>",
    "MIME-Version: 1.0",
    'Content-Type: multipart/alternative; boundary="alt-b"',
    "",
    "--alt-b",
    "Content-Type: text/plain; charset=us-ascii",
    "",
    "inner plain text",
    "--alt-b",
    "Content-Type: text/html; charset=us-ascii",
    "",
    "<p>inner html</p>",
    "--alt-b--",
    "",
  ]);
  const b64 = ATTACHMENT_BYTES.toString("base64");
  return crlf([
    "From: Carol Example <carol@example.org>",
    "To: Alice <alice@example.com>, Bob <bob@example.com>",
    "Cc: Dave <dave@example.org>",
    "Subject: Quarterly report with attachment",
    "Date: Wed, 2 Mar 2022 12:34:56 +0100",
    "Message-ID: <report-1@example.org>",
    "X-Custom-Marker: zebra-42",
    "MIME-Version: 1.0",
    'Content-Type: multipart/mixed; boundary="mix-b"',
    "",
    "This is a multi-part message in MIME format.",
    "--mix-b",
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: quoted-printable",
    "",
    "Hello Alice, the quarterly numbers are attached. Gr=C3=BC=C3=9Fe",
    "--mix-b",
    'Content-Type: application/pdf; name="report.pdf"',
    'Content-Disposition: attachment; filename="report.pdf"',
    "Content-Transfer-Encoding: base64",
    "",
    b64,
    "--mix-b",
    "Content-Type: message/rfc822",
    "",
    inner,
    "--mix-b--",
    "",
  ]);
}
