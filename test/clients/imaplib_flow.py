#!/usr/bin/env python3
"""Drives charon with Python's stdlib imaplib and prints one JSON object of results.

Usage: imaplib_flow.py HOST IMAPS_PORT USER PASS [PLAIN_PORT]

Every step records what the server answered instead of stopping at the first
failure, so the calling test can assert on each result and show all of them.
"""
import imaplib
import json
import re
import socket
import ssl
import sys
import time
import traceback

socket.setdefaulttimeout(10)

host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
plain_port = int(sys.argv[5]) if len(sys.argv) > 5 else None

results = {}


def unverified():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def text(v):
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, tuple):
        return [text(x) for x in v]
    if isinstance(v, list):
        return [text(x) for x in v]
    return v


def step(name, fn):
    try:
        results[name] = {"ok": True, "value": fn()}
    except Exception as e:  # record and carry on: the test asserts per step
        results[name] = {"ok": False, "error": "%s: %s" % (type(e).__name__, e), "trace": traceback.format_exc(limit=3)}


def cmd(res):
    typ, data = res
    return {"typ": typ, "data": text(data)}


MSG = (
    "From: Python Sender <py@example.org>\r\n"
    "To: Alice <alice@example.com>\r\n"
    "Subject: imaplib hello\r\n"
    "Date: Fri, 3 Jun 2022 08:09:10 +0000\r\n"
    "Message-ID: <imaplib-1@example.org>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "Body with a unicorn \u2014 and Gr\u00fc\u00dfe.\r\n"
).encode("utf-8")

MSG2 = (
    "From: Other <other@example.org>\r\n"
    "To: Alice <alice@example.com>\r\n"
    "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe_aus_M=C3=BCnchen?=\r\n"
    "Date: Sat, 4 Jun 2022 08:09:10 +0000\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=us-ascii\r\n"
    "\r\n"
    "second message\r\n"
).encode("ascii")

M = None


def connect():
    global M
    M = imaplib.IMAP4_SSL(host, port, ssl_context=unverified(), timeout=10)
    return text(M.welcome)


step("greeting", connect)
if M is None:
    print(json.dumps(results))
    sys.exit(0)

step("capability_before_login", lambda: cmd(M.capability()))
step("login", lambda: cmd(M.login(user, password)))
step("capability_after_login", lambda: cmd(M.capability()))
step("list", lambda: cmd(M.list()))
step("create", lambda: cmd(M.create("PyBox")))
step("select", lambda: cmd(M.select("PyBox")))
step("select_untagged", lambda: {k: text(v) for k, v in M.untagged_responses.items()})

internal = imaplib.Time2Internaldate(time.mktime((2021, 5, 6, 7, 8, 9, 0, 0, -1)))
step("append_internaldate_sent", lambda: internal)
step("append1", lambda: cmd(M.append("PyBox", r"(\Flagged $Python)", internal, MSG)))
step("append2", lambda: cmd(M.append("PyBox", None, None, MSG2)))
step("noop", lambda: cmd(M.noop()))
step("fetch_rfc822", lambda: cmd(M.fetch("1", "(RFC822)")))
step("fetch_rfc822_matches", lambda: M.fetch("1", "(RFC822)")[1][0][1] == MSG)
step("fetch_header_subject", lambda: cmd(M.fetch("1:2", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")))
step("fetch_flags", lambda: cmd(M.fetch("1:2", "(FLAGS)")))
step("fetch_bodystructure", lambda: cmd(M.fetch("1", "(BODYSTRUCTURE)")))
step("fetch_envelope", lambda: cmd(M.fetch("1", "(ENVELOPE)")))
step("fetch_internaldate", lambda: cmd(M.fetch("1", "(INTERNALDATE RFC822.SIZE)")))
step("search_unseen", lambda: cmd(M.search(None, "UNSEEN")))
step("search_subject", lambda: cmd(M.search(None, "SUBJECT", '"imaplib hello"')))


def search_utf8():
    M.literal = "Gr\u00fc\u00dfe aus".encode("utf-8")
    return cmd(M.search("UTF-8", "SUBJECT"))


step("search_charset_utf8", search_utf8)


def search_utf8_body():
    M.literal = "unicorn \u2014".encode("utf-8")
    return cmd(M.search("UTF-8", "BODY"))


step("search_charset_utf8_body", search_utf8_body)
step("search_bad_charset", lambda: cmd(M.search("X-NO-SUCH-CHARSET", "ALL")))
step("store_add_seen", lambda: cmd(M.store("2", "+FLAGS", r"(\Seen)")))
step("search_unseen_after_store", lambda: cmd(M.search(None, "UNSEEN")))
step("store_silent", lambda: cmd(M.store("1", "+FLAGS.SILENT", r"(\Answered)")))
step("fetch_flags_after_store", lambda: cmd(M.fetch("1:2", "(FLAGS)")))
step("create_copy_target", lambda: cmd(M.create("PyCopy")))
step("copy", lambda: cmd(M.copy("1:2", "PyCopy")))
step("copy_untagged", lambda: {k: text(v) for k, v in M.untagged_responses.items()})
step("status_copy_target", lambda: cmd(M.status("PyCopy", "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN)")))
step("uid_search_all", lambda: cmd(M.uid("SEARCH", "ALL")))
step("uid_fetch", lambda: cmd(M.uid("FETCH", "1:*", "(UID FLAGS)")))
step("uid_store_deleted", lambda: cmd(M.uid("STORE", "1", "+FLAGS", r"(\Deleted)")))
step("expunge", lambda: cmd(M.expunge()))
step("after_expunge_search", lambda: cmd(M.uid("SEARCH", "ALL")))
step("uid_copy_nonexistent", lambda: cmd(M.uid("COPY", "999", "PyCopy")))
step("fetch_bad_syntax", lambda: cmd(M._simple_command("FETCH", "1", "(NOSUCHATTR)")))
step("close", lambda: cmd(M.close()))
step("state_after_close", lambda: M.state)
step("select_copy", lambda: cmd(M.select("PyCopy", readonly=True)))
step("copy_target_fetch", lambda: cmd(M.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")))
step("logout", lambda: cmd(M.logout()))

# STARTTLS on the plain port: LOGIN must be refused before TLS (LOGINDISABLED, RFC 3501 §6.2.3).
if plain_port:
    P = None

    def plain_connect():
        global P
        P = imaplib.IMAP4(host, plain_port, timeout=10)
        return {"welcome": text(P.welcome), "capabilities": list(P.capabilities)}

    step("plain_greeting", plain_connect)
    if P is not None:
        def login_before_tls():
            try:
                P.login(user, password)
                return {"refused": False}
            except imaplib.IMAP4.error as e:
                return {"refused": True, "message": str(e)}

        step("plain_login_before_starttls", login_before_tls)
        step("plain_starttls", lambda: cmd(P.starttls(ssl_context=unverified())))
        step("plain_capabilities_after_tls", lambda: list(P.capabilities))
        step("plain_login_after_starttls", lambda: cmd(P.login(user, password)))
        step("plain_list", lambda: cmd(P.list()))
        step("plain_logout", lambda: cmd(P.logout()))

print(json.dumps(results))
