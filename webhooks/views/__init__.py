"""Browser views, one blueprint per module."""

# Ids are 64-bit columns: a larger number in a URL does not match the route (404) instead of
# overflowing the database driver.
MAX_ID = 2 ** 63 - 1
ID = f"int(max={MAX_ID})"
