#!/usr/bin/env python3
"""Regenerates the seed corpus in fuzz/corpus/ (the files are committed;
run this only after changing a harness's input layout).

    python3 fuzz/gen_corpus.py
"""
import os

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def write(harness, name, data):
    d = os.path.join(ROOT, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# fuzz_request: [absent mask][flags] fields joined by 0xFF:
# id, integration_id, name, content_type, type, data, data_url, remote_fields_json
def req(name, fields, absent=0, flags=0):
    write("fuzz_request", name, bytes([absent, flags]) + b"\xff".join(fields))


NO_URL = 1 << 6
NO_DATA = 1 << 5
NO_CT = 1 << 3
NO_RF = 1 << 7
req("valid_data", [b"cand_123", b"workday:8sP2qCnMJWE3f", b"Resume.pdf", b"application/pdf", b"CV",
                   b"JVBERi0xLjQK"], absent=NO_URL | NO_RF)
req("valid_data_url", [b"cand_1", b"int_1", b"Cover letter.docx", b"", b"COVER_LETTER", b"",
                       b"https://files.example.com/a/b.pdf?sig=x%20y"], absent=NO_DATA | NO_CT | NO_RF,
    flags=1 | (5 << 3))
req("valid_remote_fields", [b"a/b?c#d%e", b"int", "Lebenslauf \u00e9\u00e8 \u2603 \U0001F600.pdf".encode(),
                            b"application/pdf", b"OTHER", b"QUJD", b"",
                            b'{"workday":{"x":[1,2.5e3,"\\u00e9",null,true]},"k":""}'], absent=NO_URL)
# A CI find (issue 17): remote_fields JSON text ending in a CR, which the
# scanner accepts as whitespace; the body carries it verbatim.
req("remote_fields_trailing_cr", [b"a/b&c#d%e", b"int", "Lebenslauf \u00e9\u00e8 \u2603 \U0001F600.pdf".encode(),
                                  b"application/pdf", b"OTHER", b"QUJD", b"",
                                  b'{"work+2ay":{"x":[1,2.5e3,"\\u00e9",null,true]},"k":""}\r'], absent=NO_URL)
# remote_fields as deep as the binding writes them (32 tables and an
# empty_array: 33 levels, 34 in the body), and 64 levels, which the scanner
# takes but the binding never writes (the body would be 65 deep).
for depth in (33, 64):
    req("remote_fields_depth%d" % depth, [b"c1", b"int", b"cv.pdf", b"application/pdf", b"CV", b"QUJD", b"",
                                          b'{"a":' * (depth - 2) + b'{"leaf":[]}' + b"}" * (depth - 2)],
        absent=NO_URL)
req("valid_bytes", [b"..x", b"i", b"cv.txt", b"", b"CV", b"%PDF-1.7\n\x00\x01\x02 binary \xff"[:-1], b"", b""],
    absent=NO_CT | NO_URL | NO_RF, flags=2 | (3 << 3))
req("valid_bytes_repeat", [b"\xc3\xa9\xe2\x98\x83", b"i", b"letter.docx", b"", b"COVER_LETTER",
                           b"PK\x03\x04 zip-ish content"], absent=NO_CT | NO_URL | NO_RF, flags=2 | 4)
req("invalid_everything", [b"..", b"a\r\nb", b"\xc0\xaf\x00", b"text", b"cv", b"abc", b"ftp://x",
                           b"[1,2]"])
req("invalid_crlf_nul", [b"id\x00", b"X-Evil: 1\r\n", b"n" * 5000, b"a/b/c", b"CV", b"QQ==", b""],
    absent=NO_URL)
req("absent_all", [], absent=0xFF)
req("dot_id", [b".", b"i", b"n", b"x/y", b"CV", b"", b"http://@:80/"], absent=NO_DATA | NO_RF)

# fuzz_encode: raw bytes
write("fuzz_encode", "ascii", b"Hello, world / ? # % ~-._")
write("fuzz_encode", "controls", bytes(range(0, 0x21)) + b"\x7f\"\\")
write("fuzz_encode", "utf8", "\u00e9\u2603\U0001F600\u0000\u2028\ud7ff\ue000".encode("utf-8", "surrogatepass"))
write("fuzz_encode", "invalid_utf8", b"\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80\xe2\x82\xff\xfe")
write("fuzz_encode", "base64", b"JVBERi0xLjQK")
write("fuzz_encode", "base64_pad", b"QQ==")
write("fuzz_encode", "pdf_head", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj")
write("fuzz_encode", "png_head", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")

# fuzz_retry_after: header values
for name, v in [
    ("delta", b"120"), ("delta_ws", b" \t 5 \t"), ("zero", b"0"), ("huge", b"9" * 40),
    ("negative", b"-1"), ("garbage", b"soon"), ("float", b"1.5"),
    ("imf", b"Sun, 06 Nov 1994 08:49:37 GMT"), ("imf_future", b"Wed, 21 Oct 2065 07:28:00 GMT"),
    ("imf_leap", b"Thu, 29 Feb 2024 23:59:60 GMT"), ("imf_bad_day", b"Fri, 30 Feb 2024 00:00:00 GMT"),
    ("rfc850", b"Sunday, 06-Nov-94 08:49:37 GMT"), ("rfc850_future", b"Tuesday, 01-Jan-70 00:00:00 GMT"),
    ("asctime", b"Sun Nov  6 08:49:37 1994"), ("asctime2", b"Mon Dec 31 23:59:59 2099"),
    ("empty", b""),
    # and limit headers (kombo_parse_limits): leading zeros, the 2^31-1 cap, a block
    ("limit_zeros", b"0" * 34 + b"5"), ("limit_cap", b"2147483648"),
    ("limit_block", b"Concurrency-Limit: 5\r\nconcurrency-limit: 05, 5\r\nRateLimit-Reset: 7\r\n"),
]:
    write("fuzz_retry_after", name, v)


# fuzz_classify: [status:2][transport error][phase][limit] error-message \n headers \r\n\r\n body
def resp(name, status, body=b"", headers=b"", te=0, phase=4, limit=7, msg=b""):
    write("fuzz_classify", name, bytes([status >> 8, status & 255, te, phase, limit]) + msg + b"\n" +
          headers + b"\r\n" + body)


JSON = b"Content-Type: application/json\r\n"
resp("success", 200, b'{"status":"success","data":{},"warnings":[{"message":"heads up"}]}',
     b"HTTP/1.1 200 OK\r\n" + JSON)
resp("success_bad_shape", 200, b'{"status":"success","data":[],"warnings":[]}', JSON)
resp("truncated_json", 200, b'{"status":"succ', JSON)
resp("kombo_error", 400, b'{"status":"error","error":{"code":"INTEGRATION.ACTION_NOT_AVAILABLE",'
     b'"title":"Not available","message":"Line\\nbreak \\u00e9 \\ud83d\\ude00","log_url":"https://app.kombo.dev/logs/1"}}',
     b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 400 Bad Request\r\n" + JSON)
resp("kombo_error_nulls", 422, b'{"status":"error","error":{"code":null,"title":null,"message":"m","log_url":null}}', JSON)
resp("rate_limited", 429, b'{"status":"error","error":{"message":"slow down"}}',
     JSON + b"Retry-After: 3\r\n")
resp("unavailable_date", 503, b"<html>busy</html>", b"Content-Type: text/html\r\nRetry-After: Wed, 21 Oct 2065 07:28:00 GMT\r\n")
resp("bad_gateway_html", 502, b"<html><body>502 Bad Gateway</body></html>", b"Content-Type: text/html\r\n")
resp("redirect", 302, b"", b"Location: https://evil.example.com/\x1b[31m\r\n")
resp("too_large", 200, b"x" * 200, JSON, limit=0)
resp("reset_connect", 0, te=1, phase=0, msg=b"Connection refused")
resp("timeout_waiting", 0, te=2, phase=2, msg=b"Operation timed out after 10000 milliseconds")
resp("aborted", 0, te=4, phase=1, msg=b"the attachment source failed: boom")
resp("deep_json", 500, b"[" * 100 + b"]" * 100, JSON)
resp("informational", 101, b"", b"Upgrade: h2c\r\n")

# fuzz_json: JSON text, valid and not
for name, v in [
    ("success", b'{"status":"success","data":{"id":"a1","n":42,"f":-1.5e-3},"warnings":[]}'),
    ("error", b'{"status":"error","error":{"code":null,"title":"T","message":"m\\n","log_url":""}}'),
    ("escapes", b'["\\"\\\\\\/\\b\\f\\n\\r\\t","\\u00e9\\ud83d\\ude00","\\u0000", "\xc3\xa9"]'),
    ("duplicates", b'{"k":1,"k":[true,false,null],"k\\u0065":{}}'),
    ("spaced", b' \t\r\n{ "a" : [ 1 , 2 ] } \n'),
    ("numbers", b'[0,-0,1e9,1E+2,2e-2,9223372036854775808,-9223372036854775809,0.5]'),
    ("deep", b"[" * 64 + b"]" * 64),
    ("too_deep", b"[" * 65 + b"]" * 65),
    ("truncated", b'{"status":"succ'),
    ("bad_surrogate", b'["\\ud800x"]'),
    ("bad_utf8", b'["\xed\xa0\x80"]'),
    ("trailing", b'[1] x'),
    # kombo_json_str_eq took a key's escaped text for its value (the key
    # \n matched the literal backslash-n) and gave up on escaped keys
    # that decode to 64 bytes or more.
    ("escaped_key_vs_text", b'{"\\\\n":1,"\\n":2}'),
    ("long_escaped_key", b'{"\\u0061' + b"a" * 69 + b'":3}'),
]:
    write("fuzz_json", name, v)

if __name__ == "__main__":
    print("wrote", ROOT)


# fuzz_schema: one value tree, a byte per node kind (see value() in the
# harness): 7 n <members> = object of n members, each a value then its key
# (a byte < 200 picks a known key), 6 n <values> = array, 4 w = one of the
# harness's words, 2 b b = integer, 1 b = boolean, 9 1 size = source,
# 8 = empty table.
def tree(name, data):
    write("fuzz_schema", name, bytes(data))


tree("attachment_data", [7, 2, 7, 4, 4, 2, 0, 4, 0, 2, 4, 3, 1, 4, 5, 3, 9, 7, 0, 10])
tree("attachment_file", [7, 1, 7, 2, 4, 29, 5, 4, 0, 2, 9])
tree("attachment_bytes", [7, 1, 7, 3, 4, 2, 0, 4, 1, 2, 4, 3, 6, 9])
tree("attachment_source", [7, 1, 7, 3, 4, 2, 0, 4, 0, 2, 9, 1, 4, 7, 9])
tree("candidate", [7, 2, 7, 3, 4, 22, 21, 4, 15, 22, 4, 13, 23, 11, 7, 2, 4, 10, 18, 4, 12, 19, 13])
tree("query", [7, 3, 6, 2, 4, 19, 4, 20, 30, 2, 5, 1, 31, 1, 1, 32])
tree("files", [7, 1, 6, 3, 11, 2, 4, 0, 2, 4, 2, 0, 11, 1, 8, 7, 8, 12])
