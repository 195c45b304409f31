"""Read the Log History table of a page or fragment: rows by delivery id, cells by column."""
import json
from html.parser import HTMLParser

from .polling import HX

# The class of each <td> in log_history/_row.html, and the column name tests use for it.
COLUMNS = {"event-id": "event_id", "when": "time", "event": "event", "url": "url",
           "response": "response", "row-actions": "actions"}


class LogTable(HTMLParser):
    """Each row: {"id": delivery id, "attrs": the <tr>'s attributes, and a text per column}."""

    def __init__(self, html):
        super().__init__()
        self.rows = []
        self._row = None
        self._cell = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr" and (attrs.get("id") or "").startswith("delivery-"):
            self._row = {"id": int(attrs["id"].split("-")[1]), "attrs": attrs}
        elif tag == "td" and self._row is not None:
            column = next(COLUMNS[name] for name in (attrs.get("class") or "").split()
                          if name in COLUMNS)
            self._cell = (column, [])

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            column, texts = self._cell
            self._row[column] = " ".join("".join(texts).split())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[1].append(data)

    @property
    def ids(self):
        return [r["id"] for r in self.rows]

    def row(self, delivery_id):
        return next(r for r in self.rows if r["id"] == delivery_id)


def pretty(payload_text):
    return json.dumps(json.loads(payload_text), indent=2, ensure_ascii=False)


def log_url(webhook, **args):
    query = "&".join(f"{k}={v}" for k, v in args.items())
    return f"/orgs/acme/webhooks/{webhook.id}/log" + (f"?{query}" if query else "")


def table(client, webhook, **args):
    """Fetch Log History's results fragment; return (LogTable, html)."""
    response = client.get(log_url(webhook, **args), headers=HX)
    assert response.status_code == 200
    return LogTable(response.get_data(as_text=True)), response.get_data(as_text=True)
