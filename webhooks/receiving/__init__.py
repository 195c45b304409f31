"""Code that customers paste to receive and verify our deliveries, one file per platform.

The snippets are kept as files beside this module (not as strings in templates) so that the
suite can run each one against a real delivery: tests/integration/test_receiving_snippets.py.
They are only ever read as text here, never imported.
"""
from pathlib import Path
from typing import NamedTuple

HERE = Path(__file__).parent


class Platform(NamedTuple):
    key: str
    name: str
    language: str  # the code block's language label
    filename: str
    run: str  # how to run or deploy it, in one line
    notes: str  # what it needs, in a sentence or two
    tested: bool  # whether the suite runs it against a real delivery


PLATFORMS = (
    Platform("python", "Python", "python", "receive.py",
             "WEBHOOK_SECRET=whsec_… PORT=8000 python3 receive.py",
             "Standard library only (Python 3.9+). In Flask or Django, run the same checks on "
             "request.get_data() or request.body before parsing the JSON.", True),
    Platform("node", "Node.js", "javascript", "receive.js",
             "WEBHOOK_SECRET=whsec_… PORT=8000 node receive.js",
             "Built-in http and crypto modules only. With Express, verify the raw body "
             "(express.raw()): a body parsed by express.json() no longer verifies.", True),
    Platform("ruby", "Ruby", "ruby", "receive.rb",
             "WEBHOOK_SECRET=whsec_… PORT=8000 ruby receive.rb",
             "Standard library plus WEBrick, which Ruby 3.0+ no longer bundles: gem install "
             "webrick (Debian: ruby-webrick). In Rails, verify request.raw_post.", True),
    Platform("php", "PHP", "php", "receive.php",
             "WEBHOOK_SECRET=whsec_… php -S 127.0.0.1:8000 receive.php",
             "Plain PHP 7.3+ with hash_hmac and hash_equals, under any web server. Each request "
             "runs apart, so the sample remembers processed ids in files.", True),
    Platform("go", "Go", "go", "receive.go",
             "WEBHOOK_SECRET=whsec_… PORT=8000 go run receive.go",
             "Standard library only (Go 1.18+): net/http and hmac.Equal.", True),
    Platform("csharp", "C#", "csharp", "Receive.cs",
             "mcs Receive.cs && WEBHOOK_SECRET=whsec_… PORT=8000 mono Receive.exe",
             "Base class library only: HttpListener and CryptographicOperations.FixedTimeEquals "
             "(Mono 6.8+, .NET Core 2.1+; in ASP.NET Core, read Request.Body as bytes).", True),
    Platform("java", "Java", "java", "Receive.java",
             "WEBHOOK_SECRET=whsec_… PORT=8000 java Receive.java",
             "The JDK alone (Java 11+ runs the single file): com.sun.net.httpserver and "
             "MessageDigest.isEqual. In Spring, take the body as byte[].", True),
    Platform("apex", "Salesforce Apex", "apex", "WebhookReceiver.cls",
             "Deploy the class, Webhook_Setting__mdt and Webhook_Delivery__c; expose it on a Site",
             "An Apex REST class reached through a public Salesforce Site's guest user at "
             "/services/apexrest/webhooks; the secret lives in a protected custom metadata type.",
             False),
    Platform("netsuite", "NetSuite SuiteScript 2.1", "javascript", "webhook_suitelet.js",
             "Deploy as a Suitelet, Available Without Login, and use its External URL",
             "N/crypto with the secret kept as an API Secret (without whsec_); a Suitelet cannot "
             "set its status code, so a rejected delivery throws.", False),
)

BY_KEY = {platform.key: platform for platform in PLATFORMS}


def source(platform):
    """Return the text of the platform's snippet (a Platform or its key)."""
    if isinstance(platform, str):
        platform = BY_KEY[platform]
    return (HERE / platform.filename).read_text(encoding="utf-8")
