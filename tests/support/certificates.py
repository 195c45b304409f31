"""Test certificates with chosen validity dates, for receivers whose certificate expires or has
expired."""


class DatedCA:
    """A trustme CA whose certificates carry the given not_before and not_after.

    Receiver(DatedCA(ca, not_after=...)) serves a certificate that the tests' CA bundle trusts
    but that expires when the test says.
    """

    def __init__(self, ca, **dates):
        self.ca, self.dates = ca, dates

    def issue_cert(self, *identities):
        return self.ca.issue_cert(*identities, **self.dates)
